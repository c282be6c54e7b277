// One pipeline stage: its part of the graph, its parameters and its optimizer, run on an eager
// runtime and driven over a Link by the driver's control messages (pipeline-protocol.ts).
// A step is GPipe's schedule with re-materialization: every micro-batch's forward first (each sent
// on as soon as it is computed), then every micro-batch's backward, in micro-batch order. The
// backward of a stage before the last runs `runtime.gradients` on its train graph (stage inputs
// plus the gradients that came back, seeded through the PipelineSeam), which recomputes that
// micro-batch's forward instead of keeping its intermediates. The stage holding the loss does
// forward and backward of a micro-batch at once. Parameter gradients are summed over the
// micro-batches (each already 1/M of the batch's), their Σg² goes to the driver, which sends back
// the global norm and the step's learning rate: then clipping and the optimizer update this
// stage's own parameters. Its runtimes' messages are forwarded to the driver, named as the whole
// graph names them (a stage input is the port of the stage that computed it).
import {
  type Backend,
  type GraphJSON,
  type LayerResolver,
  type Message,
  type MessageFilter,
  type Optimizer,
  type ClippingPolicy,
  ParamStore,
  type PortRef,
  Runtime,
  type Tensor,
  TrainingError,
  add,
  fill,
  formatPortRef,
  graphFromJSON,
  keep,
  mul,
  reduceSum,
  scalar,
  stepUpdates,
  tidy,
} from '@ganglion/core';
import type { Link } from './link.js';
import { Mailbox } from './mailbox.js';
import {
  type StageGraphs,
  planPipeline,
  seedInput,
  stageGraphs,
  stageInputName,
  type PipelinePlan,
} from './pipeline-plan.js';
import {
  type ConfigRequest,
  type ControlHead,
  type PortHead,
  type ReplyHead,
  type StepRequest,
  subjects,
} from './pipeline-protocol.js';
import { graphMessage, wanted } from './stage-messages.js';
import { type WireTensor, decodeFrame, encodeFrame, messageFrame, toTensor } from './wire.js';

/** What a stage needs from its host: a backend by name, and the layers, optimizer and clipping of a plugin choice. */
export interface StageHost {
  createBackend(name: ConfigRequest['backend']): Promise<Backend>;
  training(
    config: ConfigRequest,
    backend: Backend,
  ): { resolve: LayerResolver; optimizer: Optimizer; clipping: ClippingPolicy };
}

interface Configured {
  readonly backend: Backend;
  readonly plan: PipelinePlan;
  readonly graphs: StageGraphs;
  readonly params: ParamStore;
  readonly forward?: Runtime;
  readonly train?: Runtime;
  readonly optimizer: Optimizer;
  readonly clipping: ClippingPolicy;
  readonly config: ConfigRequest;
  /** Stage-graph input name -> the port it stands for (inputs from other stages). */
  readonly received: Map<string, PortRef>;
}

/**
 * Serve one stage until the driver says stop or the link closes.
 *
 *   await new StageWorker(link, run, 1, host).serve();
 */
export class StageWorker {
  private readonly s: ReturnType<typeof subjects>;
  private state?: Configured;
  private readonly mailbox = new Mailbox();
  private accumulated = new Map<string, Tensor>();
  /** Whether runtime messages are being forwarded now, and which. */
  private forwarding: { step: number; watches: readonly MessageFilter[]; recompute: boolean } | undefined;
  private stopped!: () => void;
  /** Ends `serve` with an error: a frame that cannot be read. */
  private broken!: (e: unknown) => void;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: Link,
    run: string,
    readonly index: number,
    private readonly host: StageHost,
  ) {
    this.s = subjects(run);
  }

  /** Listen, greet the driver, and answer control messages in order; resolves on stop. */
  async serve(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.stopped = resolve;
      this.broken = reject;
    });
    this.link.subscribe(this.s.ctl(this.index), (bytes) =>
      this.guard(() => {
        const frame = decodeFrame(bytes);
        const head = frame.head as unknown as ControlHead;
        // One request at a time, in the order sent.
        this.queue = this.queue.then(() => this.handle(head, frame.tensors));
      }),
    );
    await this.link.flush();
    this.link.publish(this.s.hello, encodeFrame({ stage: this.index, pid: process.pid }));
    await this.link.flush();
    await done;
  }

  /** Run a subscription's callback; what it throws ends the stage (the bus would swallow it). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.broken(e);
    }
  }

  private async handle(head: ControlHead, tensors: Record<string, WireTensor>): Promise<void> {
    try {
      const reply = await this.run(head, tensors);
      this.reply({ id: head.id, ok: true, ...reply.head }, reply.tensors);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.reply({ id: head.id, ok: false, error: `stage ${this.index}: ${message.split('\n')[0]}` });
    }
    if (head.op === 'stop') {
      await this.link.flush();
      this.stopped();
    }
  }

  private reply(head: ReplyHead, tensors: Record<string, Tensor | WireTensor> = {}): void {
    this.link.publish(this.s.reply(this.index), encodeFrame({ ...head }, tensors));
  }

  private async run(
    head: ControlHead,
    tensors: Record<string, WireTensor>,
  ): Promise<{ head?: Partial<ReplyHead>; tensors?: Record<string, Tensor> }> {
    switch (head.op) {
      case 'config':
        await this.configure(head, tensors);
        return {};
      case 'step':
        return { head: await this.step(head) };
      case 'apply':
        this.apply(head.gradNorm, head.lr);
        return {};
      case 'discard':
        this.clearAccumulated();
        return {};
      case 'sync':
        return this.sync();
      case 'stop':
        return {};
    }
  }

  private async configure(config: ConfigRequest, tensors: Record<string, WireTensor>): Promise<void> {
    const backend = await this.host.createBackend(config.backend);
    const { resolve, optimizer, clipping } = this.host.training(config, backend);
    if (optimizer.name !== config.optimizer || clipping.name !== config.clipping)
      throw new TrainingError(
        `the plugins sent make optimizer "${optimizer.name}" and clipping "${clipping.name}", but the driver's trainer uses "${config.optimizer}" and "${config.clipping}"`,
      );
    const graph = graphFromJSON(config.graph as GraphJSON, resolve);
    const plan = planPipeline(graph, { loss: config.loss, placement: config.placement });
    const stage = plan.stages[this.index];
    if (!stage) throw new TrainingError(`the plan has ${plan.stages.length} stages, none numbered ${this.index}`);
    const graphs = stageGraphs(graph, plan, this.index);
    const params = new ParamStore(graphs.train ?? graphs.forward!);
    for (const key of params.keys()) {
      const t = tensors[`param.${key}`];
      if (!t) throw new TrainingError(`the driver sent no value for parameter "${key}"`);
      params.set(key, toTensor(t, backend));
    }
    const slots = new Map(
      Object.entries(tensors)
        .filter(([k]) => k.startsWith('slot.'))
        .map(([k, t]) => [k.slice('slot.'.length), toTensor(t, backend)]),
    );
    optimizer.setState({ name: config.optimizer, tensors: slots, meta: { step: config.optimizerStep } }, backend);
    for (const t of slots.values()) t.dispose();
    const runtime = (g: typeof graphs.train) => {
      if (!g) return undefined;
      const r = new Runtime(g, { params, backend });
      r.messages$.subscribe((m) => this.forwardMessage(m, false));
      return r;
    };
    const received = new Map(stage.inputs.filter((i) => i.from >= 0).map((i) => [stageInputName(i), i.ref]));
    this.state = {
      backend,
      plan,
      graphs,
      params,
      forward: runtime(graphs.forward),
      train: runtime(graphs.train),
      optimizer,
      clipping,
      config,
      received,
    };
    for (const input of stage.inputs)
      this.link.subscribe(this.s.act(input.ref), (bytes) => this.guard(() => this.deliver('act', input.ref, bytes)));
    for (const g of stage.gradientsIn)
      this.link.subscribe(this.s.grad(g.ref), (bytes) => this.guard(() => this.deliver('grad', g.ref, bytes)));
    await this.link.flush();
  }

  // ---- receiving ports ----

  private deliver(kind: 'act' | 'grad', ref: PortRef, bytes: Uint8Array): void {
    const frame = decodeFrame(bytes);
    const h = frame.head as unknown as PortHead;
    this.mailbox.put(mailKey(kind, ref, h.step, h.micro, kind === 'grad' ? h.stage : undefined), frame);
  }

  /** The tensor sent on a port for a step's micro-batch, waiting at most the timeout. */
  private async receive(
    kind: 'act' | 'grad',
    ref: PortRef,
    step: number,
    micro: number,
    from: number,
  ): Promise<Tensor> {
    const { timeoutMs } = this.state!.config;
    const key = mailKey(kind, ref, step, micro, kind === 'grad' ? from : undefined);
    const frame = await this.mailbox.take(key, timeoutMs, () => {
      const what = kind === 'act' ? 'activation' : 'gradient';
      const sender = from < 0 ? 'the driver' : `stage ${from}`;
      return new TrainingError(
        `no ${what} of "${formatPortRef(ref)}" from ${sender} for step ${step}, micro-batch ${micro}, within ${timeoutMs / 1000} s`,
      );
    });
    return keep(toTensor(frame.tensors.value, this.state!.backend));
  }

  private send(kind: 'act' | 'grad', ref: PortRef, step: number, micro: number, value: Tensor): void {
    const subject = kind === 'act' ? this.s.act(ref) : this.s.grad(ref);
    const head: PortHead = { step, micro, stage: this.index };
    this.link.publish(subject, encodeFrame({ ...head }, { value }));
  }

  private progress(id: number): void {
    this.reply({ id, progress: true });
  }

  // ---- a step ----

  private async step(req: StepRequest & { id: number }): Promise<Partial<ReplyHead>> {
    const st = this.state;
    if (!st) throw new TrainingError('a step before the config');
    const stage = st.plan.stages[this.index];
    const micros = req.seeds.length;
    this.clearAccumulated();
    const losses: number[] = [];
    const kept: Record<string, Tensor>[] = [];
    this.forwarding = { step: req.step, watches: req.watches, recompute: false };
    try {
      for (let m = 0; m < micros; m++) {
        const feeds: Record<string, Tensor> = {};
        for (const input of stage.inputs)
          feeds[stageInputName(input)] = await this.receive('act', input.ref, req.step, m, input.from);
        const opts = { step: req.step, seed: req.seeds[m], correlationId: req.correlationIds[m] };
        if (stage.hasLoss) {
          const g = fill(lossShape(st), 1 / micros, 'float32', st.backend);
          losses.push(this.backward({ ...feeds, [seedInput(0)]: g }, opts, m));
          g.dispose();
          disposeAll(feeds);
        } else {
          const outputs = tidy(() => st.forward!.forward(feeds, { ...opts, training: true }));
          for (const o of stage.outputs) this.send('act', o.ref, req.step, m, outputs[formatPortRef(o.ref)]);
          disposeAll(outputs);
          kept.push(feeds);
        }
        this.progress(req.id);
      }
      this.forwarding = { ...this.forwarding, recompute: true };
      for (let m = 0; m < kept.length; m++) {
        if (st.train) {
          const feeds = { ...kept[m] };
          const seeds: Tensor[] = [];
          for (const [i, g] of stage.gradientsIn.entries()) {
            let sum: Tensor | undefined;
            for (const from of g.from) {
              const part = await this.receive('grad', g.ref, req.step, m, from);
              sum = sum ? keep(add(sum, part)) : part;
              if (sum !== part) part.dispose();
            }
            feeds[seedInput(i)] = sum!;
            seeds.push(sum!);
          }
          this.backward(feeds, { step: req.step, seed: req.seeds[m], correlationId: req.correlationIds[m] }, m);
          disposeAll(seeds);
        }
        disposeAll(kept[m]);
        this.progress(req.id);
      }
    } finally {
      this.forwarding = undefined;
    }
    // The step's gradients, as the optimizer will see them (before clipping), as ParamGrad messages.
    this.forwarding = { step: req.step, watches: req.watches, recompute: false };
    for (const [key, grad] of this.accumulated) {
      const { node, spec } = st.params.specs.get(key)!;
      this.forwardMessage({ kind: 'param-grad', step: req.step, node, param: spec.name, grad }, true);
    }
    this.forwarding = undefined;
    let sumSquares = 0;
    for (const g of this.accumulated.values()) sumSquares += tidy(() => reduceSum(mul(g, g)).dataSync()[0]);
    return { sumSquares, ...(stage.hasLoss ? { losses } : {}) };
  }

  /**
   * One micro-batch's backward wave on the train graph: sums its parameter gradients into the
   * step's, sends each received port's gradient back to the stage that sent the port. Returns the loss.
   */
  private backward(
    feeds: Record<string, Tensor>,
    opts: { step: number; seed: number; correlationId: string },
    micro: number,
  ): number {
    const st = this.state!;
    const stage = st.plan.stages[this.index];
    return tidy(() => {
      const r = st.train!.gradients(feeds, { loss: 'loss', ...opts });
      // One tensor may be the gradient of two parameters (an LSTM's two biases): free the old sums once none is held.
      const old = new Set<Tensor>();
      for (const [key, g] of r.paramGrads) {
        const prev = this.accumulated.get(key);
        this.accumulated.set(key, keep(prev ? add(prev, g) : g));
        if (prev) old.add(prev);
      }
      const held = new Set(this.accumulated.values());
      for (const t of old) if (!held.has(t)) t.dispose();
      for (const ref of stage.gradientsOut) {
        const grad = r.inputGrads.get(formatPortRef(ref));
        if (!grad) throw new TrainingError(`no gradient reached the input "${formatPortRef(ref)}"`);
        this.send('grad', ref, opts.step, micro, grad);
      }
      return stage.hasLoss ? r.outputs.objective.dataSync()[0] : 0;
    });
  }

  /** Clip with the global norm and let the optimizer update this stage's parameters. */
  private apply(gradNorm: number, lr: number): void {
    const st = this.state!;
    tidy(() => {
      const scalars = st.optimizer.stepScalars(lr, st.optimizer.stepCount + 1);
      const updates = stepUpdates(
        st,
        this.accumulated,
        scalar(gradNorm, 'float32', st.backend),
        (k) => st.params.get(k),
        (k) => st.optimizer.slotsOf(k),
        scalars,
      );
      st.optimizer.commit(st.params, updates);
    });
    this.clearAccumulated();
  }

  private sync(): { head: Partial<ReplyHead>; tensors: Record<string, Tensor> } {
    const st = this.state!;
    const tensors: Record<string, Tensor> = {};
    for (const [key, t] of st.params.entries()) tensors[`param.${key}`] = t;
    for (const [key, t] of st.optimizer.getState().tensors) tensors[`slot.${key}`] = t;
    return { head: { optimizerStep: st.optimizer.stepCount }, tensors };
  }

  private clearAccumulated(): void {
    for (const t of new Set(this.accumulated.values())) t.dispose();
    this.accumulated = new Map();
  }

  // ---- messages to the driver ----

  /**
   * Forward a message to the driver, named as the whole graph names it; drop the stage's own
   * plumbing. `own`: a message of the stage itself (the step's ParamGrads), not of a runtime.
   */
  private forwardMessage(m: Message, own: boolean): void {
    const f = this.forwarding;
    const st = this.state;
    if (!f || !st) return;
    const isStageInput = (node: string) => Boolean(st.graphs.train?.isInput(node) || st.graphs.forward?.isInput(node));
    const out = graphMessage(m, {
      lossRef: st.plan.lossRef,
      isStageInput,
      received: st.received,
      recompute: f.recompute,
      own,
    });
    if (out && wanted(out, st.config.messages, f.watches))
      this.link.publish(this.s.msg(this.index), messageFrame(out, this.index));
  }
}

function mailKey(kind: 'act' | 'grad', ref: PortRef, step: number, micro: number, from?: number): string {
  return `${kind}|${formatPortRef(ref)}|${step}|${micro}|${from ?? ''}`;
}

function lossShape(st: Configured): number[] {
  const shape = st.graphs.train!.inputs.find((i) => i.name === seedInput(0))!.spec.shape;
  return shape.map((d) => (typeof d === 'number' ? d : 1));
}

function disposeAll(ts: Record<string, Tensor> | Tensor[]): void {
  for (const t of Object.values(ts)) t?.dispose();
}
