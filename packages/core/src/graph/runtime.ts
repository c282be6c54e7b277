// The RxJS runtime. Every node is an operator over its input streams: `zip` correlates one
// activation per input port (by step), the layer runs, and the node's output ports emit. A forward
// wave starts when the graph inputs are fed; a backward wave starts at the loss and flows back over
// gradient streams, one per (producer port -> consumer port) edge, so a port that feeds several
// consumers sums their gradients before its node sends its own upstream. Parameter gradients are
// peeled off as ParamGrad messages. Every message also goes to `messages$`.

import { Observable, Subject, Subscription, filter, map, share, zip } from 'rxjs';
import type { Backend } from '../backend.js';
import { isFloat } from '../dtype.js';
import { Tape } from '../autodiff/tape.js';
import { fill, scalar, tensor } from '../creation.js';
import { getBackend, keep, tidy, withBackend } from '../engine.js';
import { ConfigError, GanglionError, GraphError } from '../errors.js';
import { add } from '../ops/add.js';
import { expand } from '../ops/expand.js';
import { gather } from '../ops/gather.js';
import { reshape } from '../ops/reshape.js';
import { deriveSeed } from '../random/prng.js';
import { formatShape, sameDim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import type { Graph, GraphNode } from './graph.js';
import type { LayerContext, LayerResult, NodeCall, NodeHook } from './layer.js';
import { hasOnnxLowering } from '../export/native-lowering.js';
import {
  type Activation,
  type Context,
  type Gradient,
  type Message,
  type MessageFilter,
  type MessageKind,
  type ParamGrad,
  type PortRef,
  formatPortRef,
  matchesFilter,
} from './messages.js';
import { ParamStore, paramKey } from './params.js';

export interface RuntimeOptions {
  /** Seeds parameter initialization and dropout. Default 0. */
  readonly seed?: number;
  readonly backend?: Backend;
  /** Use these parameters instead of initializing new ones (loaded or shared weights). */
  readonly params?: ParamStore;
  /** Runs each node's forward (tracers: naming, native lowerings, state inputs); default `call.forward()`. */
  readonly nodeHook?: NodeHook;
}

export interface ForwardOptions {
  readonly training?: boolean;
  /** Carry each node's state (LSTM h/c, attention caches) to the next wave. */
  readonly stream?: boolean;
  /** Position of this wave's first time step in the stream. */
  readonly position?: number;
  readonly mask?: Tensor;
  readonly correlationId?: string;
  /** Seed of this wave's RNG stream (dropout); default derived from the runtime seed and step. */
  readonly seed?: number;
  /** The step number this wave's messages carry (a trainer passes its update count); default the next of the runtime's own count. */
  readonly step?: number;
}

export interface TrainStepResult {
  readonly step: number;
  readonly loss: number;
  /** Every graph output of the forward wave. */
  readonly outputs: Record<string, Tensor>;
  /** Gradient of the loss for every trainable parameter, keyed `<node>.<param>`. */
  readonly paramGrads: Map<string, Tensor>;
  /** Gradient of the loss for every float graph input. */
  readonly inputGrads: Map<string, Tensor>;
}

/** What `Runtime.gradients` returns: a TrainStepResult whose loss is still a tensor. */
export interface TrainStepTensors extends Omit<TrainStepResult, 'loss'> {
  readonly loss: Tensor;
}

interface NodeRecord {
  tape?: Tape;
  inputs: Record<string, Tensor>;
  params: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
}

const key = (r: PortRef) => formatPortRef(r);

export class Runtime {
  readonly params: ParamStore;
  readonly backend: Backend;
  private readonly messages = new Subject<Message>();
  /** Every message of every wave, as it happens. Filter with `ofKind`, `forNode`, `forPort`. */
  readonly messages$: Observable<Message> = this.messages.asObservable();

  private stepCounter = 0;
  private readonly watchers = new Set<MessageFilter>();
  private forwardWiring!: { inputs: Map<string, Subject<Activation>>; subscription: Subscription };
  private waveOutputs = new Map<string, Activation>();
  private waveError: unknown;
  private wave?: { training: boolean; stream: boolean; onPath?: Set<string>; records: Map<string, NodeRecord> };
  private readonly states = new Map<string, Record<string, Tensor>>();

  constructor(
    readonly graph: Graph,
    private readonly options: RuntimeOptions = {},
  ) {
    this.backend = options.backend ?? options.params?.get(options.params.keys()[0] ?? '')?.backend ?? getBackend();
    this.params =
      options.params ?? withBackend(this.backend, () => ParamStore.initialize(graph, options.seed ?? 0, this.backend));
    this.wireForward();
  }

  get step(): number {
    return this.stepCounter;
  }

  /**
   * The messages a filter wants, as they happen: from eager waves, and from compiled training steps
   * (backend-onnx), which add the watched values to their graph's outputs while a watch is
   * subscribed and deliver them here as the same typed messages. A message's tensors live until its
   * step ends (`keep` one to hold it longer).
   *
   *   runtime.watch({ kind: 'param-grad', every: 10 }).subscribe((m) => console.log(m.node, m.param));
   */
  watch<K extends MessageKind = MessageKind>(
    f: MessageFilter & { readonly kind?: K | readonly K[] } = {},
  ): Observable<Extract<Message, { kind: K }>> {
    const every = f.every ?? 1;
    if (!Number.isInteger(every) || every < 1)
      throw new ConfigError(`watch: "every" must be a positive integer, got ${String(f.every)}`);
    return new Observable<Extract<Message, { kind: K }>>((subscriber) => {
      const entry = { ...f, every };
      this.watchers.add(entry);
      const sub = this.messages$
        .pipe(filter((m): m is Extract<Message, { kind: K }> => m.step % every === 0 && matchesFilter(entry, m)))
        .subscribe(subscriber);
      return () => {
        this.watchers.delete(entry);
        sub.unsubscribe();
      };
    });
  }

  /** The filters of the watches subscribed now (what a compiled step must emit). */
  get watches(): readonly MessageFilter[] {
    return [...this.watchers];
  }

  /** Deliver a message that was computed elsewhere (a compiled step's taps) to `messages$` and the watches. */
  publish(message: Message): void {
    this.messages.next(message);
  }

  /**
   * One forward wave. Returns every graph output; intermediates are freed.
   *
   *   const { logits } = runtime.forward({ ids });
   */
  forward(feeds: Readonly<Record<string, Tensor>>, opts: ForwardOptions = {}): Record<string, Tensor> {
    return tidy(() => this.runWave(feeds, opts, undefined).outputs);
  }

  /**
   * Forward wave in training mode, then a backward wave from the graph output `loss` (a
   * one-element tensor). Returns the loss, the outputs and the gradients; all else is freed.
   */
  trainStep(
    feeds: Readonly<Record<string, Tensor>>,
    opts: { loss: string } & Omit<ForwardOptions, 'training' | 'stream'>,
  ): TrainStepResult {
    return tidy(() => {
      const r = this.gradients(feeds, opts);
      return { ...r, loss: r.loss.dataSync()[0] };
    });
  }

  /**
   * `trainStep` without reading anything back: the loss stays a tensor, and intermediates are
   * left to the caller's `tidy`. A compiled training step (backend-onnx) traces this, where no
   * value can be read.
   */
  gradients(
    feeds: Readonly<Record<string, Tensor>>,
    opts: { loss: string } & Omit<ForwardOptions, 'training' | 'stream'>,
  ): TrainStepTensors {
    const lossRef = this.graph.outputs[opts.loss];
    if (!lossRef)
      throw new GraphError(
        `trainStep: no graph output "${opts.loss}" (outputs: ${Object.keys(this.graph.outputs).join(', ')})`,
      );
    const onPath = this.lossPath(lossRef);
    const { outputs, step, records } = this.runWave(feeds, { ...opts, training: true }, onPath);
    const lossValue = outputs[opts.loss];
    if (lossValue.size !== 1)
      throw new GraphError(
        `trainStep: loss output "${opts.loss}" has shape ${formatShape(lossValue.shape)}, expected one element`,
      );
    const { paramGrads, inputGrads } = this.backwardWave(lossRef, lossValue, step, records, onPath);
    return { step, loss: lossValue, outputs, paramGrads, inputGrads };
  }

  /** Forget the state carried between streaming waves. */
  resetState(): void {
    for (const s of this.states.values()) for (const t of Object.values(s)) t.dispose();
    this.states.clear();
    this.messages.next({ kind: 'reset-state', step: this.stepCounter });
  }

  /**
   * Gather rows of the state carried between streaming waves: afterwards row i of every node's
   * state is its row `rows[i]` of before. Beam search calls it when it re-ranks its beams, or to
   * grow B sequences into B·K beams (`[0, 0, 1, 1]`) or drop finished ones; `rows` may repeat, skip
   * and change the row count. State tensors are batch-first (LSTM h/c [batch, H], the KV cache's
   * key/value [batch, heads, t, headDim] and mask [batch, t]); a scalar (the cache's stream position
   * `end`) belongs to every row and is kept.
   *
   *   runtime.reorderState([2, 0, 0]); // three rows: the old row 2, then the old row 0 twice
   */
  reorderState(rows: ArrayLike<number>): void {
    if (rows.length === 0) throw new ConfigError('reorderState: no rows given, expected at least one row index');
    for (const [node, state] of this.states) {
      for (const [name, t] of Object.entries(state)) {
        if (t.rank === 0) continue;
        const batch = t.shape[0] as number;
        const bad = Array.from(rows).find((r) => !(Number.isInteger(r) && r >= 0 && r < batch));
        if (bad !== undefined)
          throw new ConfigError(
            `reorderState: row ${bad} is out of range for state "${name}" of node "${node}" (shape ${formatShape(t.shape)}, ${batch} rows)`,
          );
      }
    }
    tidy(() => {
      const indices = tensor(Int32Array.from(rows), [rows.length], 'int32', this.backend);
      for (const state of this.states.values()) {
        for (const [name, t] of Object.entries(state)) {
          if (t.rank === 0) continue;
          state[name] = keep(gather(t, indices, 0));
          t.dispose();
        }
      }
    });
  }

  /** Stop: emit end-of-stream, complete `messages$`, free state (parameters stay with their store). */
  close(): void {
    this.resetState();
    this.messages.next({ kind: 'end-of-stream', step: this.stepCounter });
    this.forwardWiring.subscription.unsubscribe();
    this.messages.complete();
  }

  // ---- forward ----

  private wireForward(): void {
    this.forwardWiring?.subscription.unsubscribe();
    const subscription = new Subscription();
    const inputs = new Map<string, Subject<Activation>>();
    const streams = new Map<string, Observable<Activation>>();
    for (const i of this.graph.inputs) {
      const s = new Subject<Activation>();
      inputs.set(i.name, s);
      streams.set(key({ node: i.name, port: 'y' }), s);
    }
    for (const node of this.graph.nodes) {
      const ports = Object.entries(node.inputs).filter((e): e is [string, PortRef] => e[1] !== undefined);
      const node$ = zip(ports.map(([, src]) => streams.get(key(src))!)).pipe(
        map((msgs) =>
          this.runNode(
            node,
            ports.map(([p]) => p),
            msgs,
          ),
        ),
        share(),
      );
      for (const o of node.signature.outputs)
        streams.set(key({ node: node.name, port: o.name }), node$.pipe(map((r) => r.get(o.name)!)));
    }
    for (const [name, ref] of Object.entries(this.graph.outputs)) {
      subscription.add(
        streams.get(key(ref))!.subscribe({
          next: (a) => this.waveOutputs.set(name, a),
          error: (e) => (this.waveError = e),
        }),
      );
    }
    this.forwardWiring = { inputs, subscription };
  }

  private runWave(feeds: Readonly<Record<string, Tensor>>, opts: ForwardOptions, onPath: Set<string> | undefined) {
    for (const i of this.graph.inputs) {
      const t = feeds[i.name];
      if (!t) throw new GraphError(`input "${i.name}" was not fed (feeds: ${Object.keys(feeds).join(', ') || 'none'})`);
      this.checkFeed(i.name, i.spec.shape, i.spec.dtype, t);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.graph.isInput(name))
        throw new GraphError(
          `"${name}" is not a graph input (inputs: ${this.graph.inputs.map((i) => i.name).join(', ')})`,
        );
    }
    const step = opts.step ?? this.stepCounter + 1;
    this.stepCounter = Math.max(this.stepCounter, step);
    const seed = opts.seed ?? deriveSeed(this.options.seed ?? 0, 'wave', step);
    const context: Context = {
      step,
      training: opts.training ?? false,
      position: opts.position ?? 0,
      mask: opts.mask,
      seed,
      correlationId: opts.correlationId ?? `step-${step}`,
    };
    const records = new Map<string, NodeRecord>();
    this.wave = { training: opts.training ?? false, stream: opts.stream ?? false, onPath, records };
    this.waveOutputs = new Map();
    this.waveError = undefined;
    try {
      for (const i of this.graph.inputs) {
        const msg: Activation = {
          kind: 'activation',
          step,
          from: { node: i.name, port: 'y' },
          value: feeds[i.name],
          context,
        };
        this.messages.next(msg);
        this.forwardWiring.inputs.get(i.name)!.next(msg);
        if (this.waveError) break;
      }
    } finally {
      this.wave = undefined;
    }
    if (this.waveError) {
      const e = this.waveError;
      this.wireForward(); // a stream that errored is closed: wire afresh for the next wave
      throw e;
    }
    const outputs: Record<string, Tensor> = {};
    for (const name of Object.keys(this.graph.outputs)) outputs[name] = this.waveOutputs.get(name)!.value;
    return { outputs, step, records };
  }

  private checkFeed(name: string, shape: readonly (number | string)[], dtype: string, t: Tensor): void {
    const ok =
      t.dtype === dtype && t.rank === shape.length && shape.every((d, i) => typeof d !== 'number' || d === t.shape[i]);
    if (!ok)
      throw new GraphError(
        `input "${name}": fed ${formatShape(t.shape)} ${t.dtype}, expected ${formatShape(shape)} ${dtype}`,
      );
  }

  private runNode(node: GraphNode, ports: string[], msgs: Activation[]): Map<string, Activation> {
    const wave = this.wave!;
    const context = msgs[0]?.context;
    const step = msgs[0]?.step;
    for (const m of msgs) {
      if (m.step !== step)
        throw new GraphError(`node "${node.name}": inputs from different steps (${step} and ${m.step}) met`);
    }
    const inputs: Record<string, Tensor> = {};
    ports.forEach((p, i) => (inputs[p] = msgs[i].value));
    const params = this.params.ofNode(node.name);
    const training = wave.training && wave.onPath?.has(node.name) === true;
    let seedCounter = 0;
    const ctx: LayerContext = {
      node: node.name,
      training: wave.training,
      context,
      state: wave.stream ? this.states.get(node.name) : undefined,
      nextSeed: () => deriveSeed(context.seed, node.name, seedCounter++),
    };
    const layer = node.layer;
    const call: NodeCall = {
      node,
      inputs,
      params,
      ctx,
      forward: (c = ctx) => layer.forward(inputs, params, c),
      ...(hasOnnxLowering(layer) ? { lowerOnnx: (b, c = ctx) => layer.lowerOnnx(b, inputs, params, c) } : {}),
    };
    const hook = this.options.nodeHook;
    const run = () => (hook ? hook(call) : call.forward());
    let result: LayerResult;
    let tape: Tape | undefined;
    try {
      if (training && !node.layer.backward) {
        // The tape finds gradients by tensor identity: give a tensor wired into two ports (or also
        // used as a parameter) a distinct alias per port, so each port gets its own gradient.
        const seen = new Set<Tensor>(Object.values(params));
        for (const p of ports) {
          if (seen.has(inputs[p])) inputs[p] = reshape(inputs[p], inputs[p].shape);
          seen.add(inputs[p]);
        }
        tape = new Tape();
        for (const p of ports) if (isFloat(inputs[p].dtype)) tape.watch(inputs[p]);
        for (const [k, v] of Object.entries(params))
          if (this.params.specs.get(paramKey(node.name, k))!.spec.trainable !== false) tape.watch(v);
        result = tape.run(run);
      } else {
        result = run();
      }
    } catch (e) {
      if (e instanceof GanglionError && !(e instanceof GraphError))
        throw new GraphError(`${node.layer.kind} "${node.name}": ${e.message}`);
      throw e;
    }
    const outputs: Record<string, Tensor> =
      'outputs' in result ? { ...result.outputs } : { [node.signature.outputs[0].name]: result as Tensor };
    const state = 'outputs' in result ? result.state : undefined;
    const out = new Map<string, Activation>();
    for (const spec of node.signature.outputs) {
      const value = outputs[spec.name];
      if (!value) throw new GraphError(`${node.layer.kind} "${node.name}": forward returned no output "${spec.name}"`);
      const fits =
        value.dtype === spec.dtype &&
        value.rank === spec.shape.length &&
        spec.shape.every((d, i) => typeof d !== 'number' || sameDim(d, value.shape[i]));
      if (!fits) {
        throw new GraphError(
          `${node.layer.kind} "${node.name}": output "${spec.name}" is ${formatShape(value.shape)} ${value.dtype}, but its port declares ${formatShape(spec.shape)} ${spec.dtype}`,
        );
      }
      const msg: Activation = {
        kind: 'activation',
        step,
        from: { node: node.name, port: spec.name },
        value,
        context,
        ...(state ? { state } : {}),
      };
      this.messages.next(msg);
      out.set(spec.name, msg);
    }
    if (wave.stream && state) {
      const old = this.states.get(node.name);
      // Copies, so a state tensor the caller also got as an output stays the caller's to dispose.
      const copy = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, keep(reshape(v, v.shape))]));
      this.states.set(node.name, copy);
      if (old) for (const t of Object.values(old)) t.dispose();
    }
    if (training) wave.records.set(node.name, { tape, inputs, params, outputs });
    return out;
  }

  // ---- backward ----

  /** Nodes the loss depends on through float edges (the only ones a backward wave visits). */
  private lossPath(lossRef: PortRef): Set<string> {
    const path = new Set<string>();
    const visit = (name: string): void => {
      if (path.has(name) || this.graph.isInput(name)) return;
      path.add(name);
      const node = this.graph.node(name);
      for (const [p, src] of Object.entries(node.inputs))
        if (src && isFloat(node.inputSpecs[p]!.dtype)) visit(src.node);
    };
    visit(lossRef.node);
    return path;
  }

  private backwardWave(
    lossRef: PortRef,
    lossValue: Tensor,
    step: number,
    records: Map<string, NodeRecord>,
    onPath: Set<string>,
  ) {
    const paramGrads = new Map<string, Tensor>();
    const inputGrads = new Map<string, Tensor>();
    let error: unknown;
    const subscription = new Subscription();
    // One gradient stream per float edge into an on-path node, plus the seed at the loss.
    const edges = new Map<string, Subject<Gradient>>();
    const incoming = new Map<string, Subject<Gradient>[]>(); // producer node -> its edges
    const addEdge = (src: PortRef, id: string) => {
      const s = new Subject<Gradient>();
      edges.set(id, s);
      incoming.set(src.node, [...(incoming.get(src.node) ?? []), s]);
    };
    const seedId = `${key(lossRef)}->seed`;
    addEdge(lossRef, seedId);
    for (const name of onPath) {
      const node = this.graph.node(name);
      for (const [p, src] of Object.entries(node.inputs))
        if (src && isFloat(node.inputSpecs[p]!.dtype)) addEdge(src, `${key(src)}->${name}.${p}`);
    }
    for (const [producer, subjects] of incoming) {
      const handler = this.graph.isInput(producer)
        ? (gs: Gradient[]) => inputGrads.set(producer, sumAll(gs.map((g) => g.grad)))
        : (gs: Gradient[]) => this.runNodeBackward(this.graph.node(producer), gs, step, records, edges, paramGrads);
      subscription.add(zip(subjects).subscribe({ next: handler, error: (e) => (error ??= e) }));
    }
    const seed: Gradient = {
      kind: 'gradient',
      step,
      to: lossRef,
      from: { node: 'loss', port: 'seed' },
      grad: fill(lossValue.shape, 1, lossValue.dtype, lossValue.backend),
    };
    this.messages.next(seed);
    edges.get(seedId)!.next(seed);
    subscription.unsubscribe();
    if (error) throw error;
    return { paramGrads, inputGrads };
  }

  private runNodeBackward(
    node: GraphNode,
    gradMsgs: Gradient[],
    step: number,
    records: Map<string, NodeRecord>,
    edges: Map<string, Subject<Gradient>>,
    paramGrads: Map<string, Tensor>,
  ): void {
    const rec = records.get(node.name);
    if (!rec) throw new GraphError(`node "${node.name}": no forward record for step ${step}`);
    // Sum the gradients of each output port over its consumers.
    const byPort = new Map<string, Tensor[]>();
    for (const g of gradMsgs) byPort.set(g.to.port, [...(byPort.get(g.to.port) ?? []), g.grad]);
    const outGrads: Record<string, Tensor> = {};
    for (const [port, gs] of byPort) outGrads[port] = sumAll(gs);

    let inputGrad: (port: string) => Tensor | undefined;
    let paramGrad: (name: string) => Tensor | undefined;
    if (node.layer.backward) {
      const r = node.layer.backward(rec.inputs, rec.params, rec.outputs, outGrads);
      inputGrad = (p) => r.inputs[p];
      paramGrad = (n) => r.params[n];
    } else {
      const ports = Object.keys(outGrads);
      const map = rec.tape!.backward(
        ports.map((p) => rec.outputs[p]),
        ports.map((p) => outGrads[p]),
      );
      inputGrad = (p) => map.get(rec.inputs[p].id);
      paramGrad = (n) => map.get(rec.params[n].id);
    }
    for (const spec of node.signature.params) {
      if (spec.trainable === false) continue;
      const p = rec.params[spec.name];
      const grad = paramGrad(spec.name) ?? zerosLike(p);
      const msg: ParamGrad = { kind: 'param-grad', step, node: node.name, param: spec.name, grad };
      this.messages.next(msg);
      paramGrads.set(paramKey(node.name, spec.name), grad);
    }
    // Announce every gradient this node sends before any producer reacts to one.
    const sends: [Subject<Gradient>, Gradient][] = [];
    for (const [port, src] of Object.entries(node.inputs)) {
      if (!src || !isFloat(node.inputSpecs[port]!.dtype)) continue;
      const x = rec.inputs[port];
      const grad = inputGrad(port) ?? zerosLike(x);
      const msg: Gradient = { kind: 'gradient', step, to: src, from: { node: node.name, port }, grad };
      this.messages.next(msg);
      sends.push([edges.get(`${key(src)}->${node.name}.${port}`)!, msg]);
    }
    for (const [edge, msg] of sends) edge.next(msg);
  }
}

function sumAll(ts: Tensor[]): Tensor {
  return ts.slice(1).reduce((a, b) => add(a, b), ts[0]);
}

function zerosLike(x: Tensor): Tensor {
  return expand(scalar(0, x.dtype, x.backend), x.shape);
}
