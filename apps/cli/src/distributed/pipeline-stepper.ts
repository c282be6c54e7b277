// The driver of a pipeline: a Trainer's `Stepper` whose steps run in stage processes (a GPipe
// schedule over NATS; see stage-worker.ts). Each step it cuts the batch into M micro-batches, sends
// the graph inputs on their activation subjects, gathers each stage's Σg², and sends back the
// global norm with the step's learning rate, so every stage clips as one optimizer would. The loss
// is the mean of the micro-batches' losses; with a loss that is a mean over the batch, training
// matches a single process. The stages' messages arrive on `<run>.msg.<k>` and are published on the
// driver runtime's `messages$` (every message, or with `messages: 'watched'` those a watch wants).
// `sync` brings the stages' weights and optimizer slots into the runtime and the trainer, for
// validation and checkpoints. A stage that exits, or that is silent past the timeout, stops every
// stage and fails the step with one line.
//
//   const stepper = await pipelineStepper(runtime, trainer, { stages: 2, microBatches: 4, backend: 'tfjs' });
//   try { await lastValueFrom(trainer.fit(runtime, data, { steps: 100, stepper })); } finally { await stepper.close(); }
import {
  type Batch,
  type Message,
  type PluginChoice,
  type Runtime,
  type StepResult,
  type Stepper,
  type Tensor,
  type Trainer,
  ConfigError,
  TrainingError,
  deriveSeed,
} from '@ganglion/core';
import type { Link } from './link.js';
import { type PipelinePlan, type PipelinePlanOptions, planPipeline } from './pipeline-plan.js';
import {
  type ConfigRequest,
  type ControlRequest,
  type ForwardedMessages,
  type PortHead,
  type ReplyHead,
  type StageBackend,
  subjects,
} from './pipeline-protocol.js';
import {
  type Frame,
  type WireTensor,
  decodeFrame,
  encodeFrame,
  frameMessage,
  messageTensors,
  toTensor,
} from './wire.js';

export interface PipelineOptions extends PipelinePlanOptions {
  /** Micro-batches per batch (default 1); the batch's first dimension must split evenly. */
  readonly microBatches?: number;
  /** The eager backend every stage runs on. */
  readonly backend: StageBackend;
  /** The optimizer and clipping policy by name, as the trainer's were chosen (default: adam, no clipping). */
  readonly plugins?: PluginChoice;
  /** Seeds dropout, as `fit`'s seed (default 0). */
  readonly seed?: number;
  /** A stage silent this long fails the step (default 60). */
  readonly timeoutSeconds?: number;
  /** Which stage messages reach `messages$`: 'all' (default) or those a `runtime.watch` wants. */
  readonly messages?: ForwardedMessages;
  /** A NATS server the stages and the driver use (default: a private nats-server on 127.0.0.1). */
  readonly nats?: string;
  /** Where the stages run and how they talk (default: a child process per stage, over `nats`). */
  readonly cluster?: StageCluster | ((plan: PipelinePlan) => Promise<StageCluster>);
}

/** A running stage. `exited` resolves with a one-line reason when it ends. */
export interface StageHandle {
  readonly pid?: number;
  readonly exited: Promise<string>;
  kill(): void;
}

/** The bus and the stages: a link for the driver, and a way to start stage k. */
export interface StageCluster {
  readonly link: Link;
  readonly run: string;
  /** Where the stages connect (for messages). */
  readonly where: string;
  start(k: number): StageHandle;
  /** Stop the stages still running and the bus (a private server). */
  close(): Promise<void>;
}

export interface PipelineStepper extends Stepper {
  readonly plan: PipelinePlan;
  readonly run: string;
  /** The stage processes' ids (where known). */
  readonly pids: readonly (number | undefined)[];
  /** Stop every stage and the bus; safe to call twice. */
  close(): Promise<void>;
}

interface Pending {
  readonly stage: number;
  readonly what: string;
  resolve(f: Frame): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Start the stages of `runtime.graph` and hand back the stepper that trains with them.
 * `runtime`'s parameters and `trainer`'s optimizer state are the starting point (a fresh model or
 * a resumed checkpoint).
 */
export async function pipelineStepper(
  runtime: Runtime,
  trainer: Trainer,
  options: PipelineOptions,
): Promise<PipelineStepper> {
  const plan = planPipeline(runtime.graph, options);
  const micro = options.microBatches ?? 1;
  if (!Number.isInteger(micro) || micro < 1)
    throw new ConfigError(`pipeline: micro-batches must be a positive integer, got ${String(micro)}`);
  const cluster =
    typeof options.cluster === 'function'
      ? await options.cluster(plan)
      : (options.cluster ?? (await (await import('./stage-processes.js')).localStageCluster({ nats: options.nats })));
  const driver = new PipelineDriver(runtime, trainer, options, plan, cluster);
  try {
    await driver.start();
  } catch (e) {
    await driver.close();
    throw e;
  }
  return driver;
}

class PipelineDriver implements PipelineStepper {
  private readonly s: ReturnType<typeof subjects>;
  private readonly handles: StageHandle[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private steps: number;
  private failure?: Error;
  private closing?: Promise<void>;
  private readonly hellos = new Set<number>();
  private onHello?: () => void;
  private onFailure?: () => void;
  private readonly held: Tensor[] = [];
  private readonly timeoutMs: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly trainer: Trainer,
    private readonly options: PipelineOptions,
    readonly plan: PipelinePlan,
    private readonly cluster: StageCluster,
  ) {
    this.s = subjects(cluster.run);
    this.steps = trainer.step;
    this.timeoutMs = (options.timeoutSeconds ?? 60) * 1000;
  }

  get run(): string {
    return this.cluster.run;
  }

  get pids(): (number | undefined)[] {
    return this.handles.map((h) => h.pid);
  }

  async start(): Promise<void> {
    const link = this.cluster.link;
    link.subscribe(this.s.hello, (bytes) =>
      this.guard(() => {
        this.hellos.add(Number(decodeFrame(bytes).head.stage));
        this.onHello?.();
      }),
    );
    link.subscribe(this.s.reply('*'), (bytes) => this.guard(() => this.onReply(decodeFrame(bytes))));
    link.subscribe(this.s.msg('*'), (bytes) => this.guard(() => this.onMessage(decodeFrame(bytes))));
    void link.closed.then((e) =>
      this.fail(`the connection to ${this.cluster.where} closed${e ? `: ${e.message}` : ''}`),
    );
    await link.flush();
    for (const stage of this.plan.stages) {
      const h = this.cluster.start(stage.index);
      this.handles.push(h);
      void h.exited.then((why) => this.fail(`stage ${stage.index}${h.pid ? ` (pid ${h.pid})` : ''} ${why}`));
    }
    await this.waitForHellos();
    await Promise.all(
      this.plan.stages.map((st) => this.request(st.index, this.config(), 'config', this.stageTensors(st.index))),
    );
  }

  private waitForHellos(): Promise<void> {
    const count = this.plan.stages.length;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = this.plan.stages.map((s) => s.index).filter((k) => !this.hellos.has(k));
        reject(
          new TrainingError(
            `pipeline: stage ${missing.join(', ')} did not connect to ${this.cluster.where} within ${this.timeoutMs / 1000} s`,
          ),
        );
      }, this.timeoutMs);
      const check = () => {
        if (this.failure) {
          clearTimeout(timer);
          reject(this.failure);
        } else if (this.hellos.size >= count) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.onHello = check;
      this.onFailure = check;
      check();
    });
  }

  private config(): ConfigRequest {
    const o = this.options;
    return {
      op: 'config',
      graph: this.runtime.graph.toJSON(),
      loss: this.plan.loss,
      placement: this.plan.placement,
      backend: o.backend,
      plugins: o.plugins ?? {},
      lr: this.trainer.options.lr,
      optimizerStep: this.trainer.optimizer.stepCount,
      optimizer: this.trainer.optimizer.name,
      clipping: this.trainer.clipping.name,
      messages: o.messages ?? 'all',
      timeoutMs: this.timeoutMs,
    };
  }

  /** Stage k's parameters and optimizer slots, as the runtime and trainer hold them now. */
  private stageTensors(k: number): Record<string, Tensor> {
    const nodes = new Set(this.plan.stages[k].nodes);
    const out: Record<string, Tensor> = {};
    for (const [key, t] of this.runtime.params.entries())
      if (nodes.has(this.runtime.params.specs.get(key)!.node)) out[`param.${key}`] = t;
    for (const [name, t] of this.trainer.optimizer.getState().tensors) {
      const key = name.slice(0, name.lastIndexOf('.'));
      const spec = this.runtime.params.specs.get(key);
      if (spec && nodes.has(spec.node)) out[`slot.${name}`] = t;
    }
    return out;
  }

  // ---- requests ----

  private request(
    k: number,
    req: ControlRequest,
    what: string,
    tensors: Record<string, Tensor | WireTensor> = {},
  ): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Frame>((resolve, reject) => {
      const p: Pending = { stage: k, what, resolve, reject, timer: this.timer(k, what) };
      this.pending.set(id, p);
      this.cluster.link.publish(this.s.ctl(k), encodeFrame({ ...req, id }, tensors));
    });
  }

  private timer(k: number, what: string): NodeJS.Timeout {
    return setTimeout(
      () =>
        this.fail(
          `stage ${k}${this.handles[k]?.pid ? ` (pid ${this.handles[k].pid})` : ''} did not answer ${what} within ${this.timeoutMs / 1000} s`,
        ),
      this.timeoutMs,
    );
  }

  /** Run a subscription's callback; what it throws (a frame that cannot be read, a subscriber's error) fails the run. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fail(`the driver cannot handle a stage's frame: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private onReply(frame: Frame): void {
    const head = frame.head as unknown as ReplyHead;
    const p = this.pending.get(head.id);
    if (!p) return;
    clearTimeout(p.timer);
    if (head.progress) {
      p.timer = this.timer(p.stage, p.what);
      return;
    }
    this.pending.delete(head.id);
    if (head.ok) return p.resolve(frame);
    this.fail(head.error ?? `stage ${p.stage} failed ${p.what}`);
    p.reject(this.failure!);
  }

  private onMessage(frame: Frame): void {
    const m: Message = frameMessage(frame, this.runtime.backend);
    this.held.push(...messageTensors(m));
    this.runtime.publish(m);
  }

  /** Stop everything: every request fails with one line, every stage is killed, the bus closes. */
  private fail(reason: string): void {
    if (this.failure || this.closing) return;
    this.failure = new TrainingError(`pipeline: ${reason}; every stage is stopped`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    this.pending.clear();
    this.onFailure?.();
    void this.close();
  }

  // ---- Stepper ----

  async step(batch: Batch): Promise<StepResult> {
    const t = this.steps + 1;
    const micro = this.options.microBatches ?? 1;
    const base = deriveSeed(this.options.seed ?? 0, 'step', t);
    const seeds = micro === 1 ? [base] : Array.from({ length: micro }, (_, m) => deriveSeed(base, 'micro-batch', m));
    const correlationIds = micro === 1 ? [`step-${t}`] : seeds.map((_, m) => `step-${t}.${m}`);
    const parts = splitFeeds(batch, this.graphInputs(), micro);
    try {
      const replies = this.plan.stages.map((st) =>
        this.request(
          st.index,
          { op: 'step', step: t, seeds, correlationIds, watches: this.runtime.watches },
          `step ${t}`,
        ),
      );
      parts.forEach((feeds, m) => {
        for (const [name, w] of Object.entries(feeds)) {
          const head: PortHead = { step: t, micro: m, stage: -1 };
          this.cluster.link.publish(this.s.act({ node: name, port: 'y' }), encodeFrame({ ...head }, { value: w }));
          const value = toTensor(w, this.runtime.backend);
          this.held.push(value);
          const context = { step: t, training: true, position: 0, seed: seeds[m], correlationId: correlationIds[m] };
          this.runtime.publish({ kind: 'activation', step: t, from: { node: name, port: 'y' }, value, context });
        }
      });
      const results = (await Promise.all(replies)).map((f) => f.head as unknown as ReplyHead);
      let loss = 0;
      for (const l of results.find((r) => r.losses)!.losses!) loss += l / micro;
      const gradNorm = Math.sqrt(results.reduce((s, r) => s + (r.sumSquares ?? 0), 0));
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        await this.all({ op: 'discard' }, `discard of step ${t}`);
        throw new TrainingError(
          `step ${t}: the loss is ${loss} and the gradient norm ${gradNorm}; training stopped and the weights of step ${t - 1} are kept`,
        );
      }
      const lr = this.trainer.schedule.lrAt(t, this.trainer.options.lr);
      await this.all({ op: 'apply', step: t, gradNorm, lr }, `the update of step ${t}`);
      this.steps = t;
      return { step: t, loss, gradNorm, lr };
    } finally {
      for (const x of this.held.splice(0)) x.dispose();
    }
  }

  async sync(): Promise<void> {
    const frames = await this.all({ op: 'sync' }, 'sync');
    const slots = new Map<string, Tensor>();
    let optimizerStep = 0;
    for (const f of frames) {
      optimizerStep = Number((f.head as unknown as ReplyHead).optimizerStep);
      for (const [name, w] of Object.entries(f.tensors)) {
        const t = toTensor(w, this.runtime.backend);
        if (name.startsWith('param.')) this.runtime.params.set(name.slice('param.'.length), t);
        else slots.set(name.slice('slot.'.length), t);
      }
    }
    this.trainer.optimizer.setState(
      { name: this.trainer.optimizer.name, tensors: slots, meta: { step: optimizerStep } },
      this.runtime.backend,
    );
    for (const t of slots.values()) t.dispose();
  }

  private all(req: ControlRequest, what: string): Promise<Frame[]> {
    return Promise.all(this.plan.stages.map((st) => this.request(st.index, req, what)));
  }

  /** The graph inputs some stage reads. */
  private graphInputs(): string[] {
    return [...new Set(this.plan.stages.flatMap((s) => s.inputs.filter((i) => i.from < 0).map((i) => i.ref.node)))];
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopping = this.failure
        ? []
        : this.plan.stages
            .slice(0, this.handles.length)
            .map((st) => this.request(st.index, { op: 'stop' }, 'stop').catch(() => undefined));
      await Promise.race([Promise.all(stopping), new Promise((r) => setTimeout(r, 2000))]);
      for (const p of this.pending.values()) clearTimeout(p.timer);
      for (const h of this.handles) h.kill();
      await Promise.all(this.handles.map((h) => h.exited));
      await this.cluster.close();
    })();
    return this.closing;
  }
}

/** Each graph input's rows cut into `micro` equal consecutive parts. */
function splitFeeds(batch: Batch, names: readonly string[], micro: number): Record<string, WireTensor>[] {
  const parts: Record<string, WireTensor>[] = Array.from({ length: micro }, () => ({}));
  for (const name of names) {
    const t = batch[name];
    if (!t)
      throw new TrainingError(
        `pipeline: the batch has no "${name}" (it has ${Object.keys(batch).join(', ') || 'nothing'})`,
      );
    const rows = t.shape[0];
    if (typeof rows !== 'number' || t.rank === 0 || rows % micro !== 0)
      throw new ConfigError(
        `pipeline: "${name}" has ${String(rows ?? 'no')} rows, which ${micro} micro-batches cannot share equally`,
      );
    const data = t.dataSync();
    const size = data.length / micro;
    const shape = [rows / micro, ...(t.shape.slice(1) as number[])];
    for (let m = 0; m < micro; m++)
      parts[m][name] = { dtype: t.dtype, shape, data: data.slice(m * size, (m + 1) * size) };
  }
  return parts;
}
