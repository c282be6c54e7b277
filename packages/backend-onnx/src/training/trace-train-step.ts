// traceTrainStep: one whole training step as one ONNX graph. The graph's forward and backward
// waves (core's Runtime.gradients, every VJP a core primitive), the global gradient norm, the
// clipping policy and the optimizer's per-parameter update run once on a TraceBackend. Weights,
// optimizer slots and the optimizer's step scalars (learning rate, bias corrections) are graph
// inputs; the new weights and slots, the loss and the gradient norm are graph outputs. Sums of
// per-time-step gradients are then rewritten into single ops (gradient-sums.ts).
//
//   const m = traceTrainStep({ graph, params, optimizer, clipping, loss: 'loss', feeds: { ids: { shape: [32, 64], dtype: 'int32' }, ... } });
import {
  type ClippingPolicy,
  type DType,
  ExportError,
  Graph,
  type GraphNode,
  type Layer,
  type LayerContext,
  type LayerResult,
  type Operand,
  type OpName,
  type AttrsOf,
  ParamStore,
  Runtime,
  type SlotOptimizer,
  type Tensor,
  type TensorSpec,
  globalNorm,
  isStaticShape,
  reshape,
  tidy,
  withBackend,
} from '@ganglion/core';
import { onnx } from '../proto.js';
import { TraceBackend, type TraceValue } from '../trace-backend.js';
import { type RewriteStats, rewriteGradientSums } from './gradient-sums.js';

/** A concrete input signature: shape and dtype of each graph input. */
export type FeedSignature = Readonly<Record<string, { readonly shape: readonly number[]; readonly dtype: DType }>>;

export interface TraceTrainStepOptions {
  /** Its parameters (shapes from their specs) are graph inputs; no value is read. */
  readonly graph: Graph;
  readonly optimizer: SlotOptimizer;
  readonly clipping: ClippingPolicy;
  /** The graph output to minimize. */
  readonly loss: string;
  readonly feeds: FeedSignature;
  /**
   * The optimizer slots fed in, per parameter key (`exp_avg`, ...). Absent or empty for a
   * parameter: its update runs as the optimizer's first one (torch's "no state yet" branch).
   */
  readonly slots?: ReadonlyMap<string, Readonly<Record<string, TensorSpec>>>;
  /** Default 17. */
  readonly opset?: number;
  /** Rewrite per-step gradient sums into Concat / one Gemm (default true). */
  readonly rewrite?: boolean;
}

/** Names of the model's inputs and outputs, so a runner can feed and collect them. */
export interface TrainStepModel {
  readonly bytes: Uint8Array;
  /** Graph inputs the model reads, by their own names. */
  readonly feeds: readonly string[];
  /**
   * Every parameter: the input it is fed through (absent when nothing reads it) and, for those the
   * optimizer updates (trainable, with a gradient), the output of its new value.
   */
  readonly params: readonly { readonly key: string; readonly input?: string; readonly output?: string; readonly spec: TensorSpec }[];
  /** Slots fed in (`input`) and produced (`output`), keyed `<param key>.<slot>`. */
  readonly slotsIn: readonly { readonly name: string; readonly input: string; readonly spec: TensorSpec }[];
  readonly slotsOut: readonly { readonly name: string; readonly output: string; readonly spec: TensorSpec }[];
  /** Step scalars by name (`stepScalars(lr, t)`'s keys) and the input each is fed through. */
  readonly scalars: readonly { readonly name: string; readonly input: string }[];
  readonly loss: string;
  readonly gradNorm: string;
  /** Nodes in the model, and what the gradient-sum rewrite did. */
  readonly nodeCount: number;
  readonly rewrites: RewriteStats;
}

export const TRAIN_STEP_NAMES = {
  param: (key: string) => `params/${key}`,
  newParam: (key: string) => `new_params/${key}`,
  slot: (name: string) => `slots/${name}`,
  newSlot: (name: string) => `new_slots/${name}`,
  scalar: (name: string) => `scalars/${name}`,
  loss: 'step/loss',
  gradNorm: 'step/grad_norm',
} as const;

/** A TraceBackend that remembers the shape of every value a primitive produced (for the rewrites). */
export class ShapeRecordingTrace extends TraceBackend {
  readonly shapeOf = new Map<string, readonly number[]>();

  override execute<K extends OpName>(op: K, inputs: readonly Operand<TraceValue>[], attrs: AttrsOf<K>, out: TensorSpec): TraceValue {
    const v = super.execute(op, inputs, attrs, out);
    if (isStaticShape(out.shape)) this.shapeOf.set(v.name, out.shape as number[]);
    return v;
  }

  override input(name: string, spec: TensorSpec): Tensor {
    const t = super.input(name, spec);
    if (isStaticShape(spec.shape)) this.shapeOf.set(name, spec.shape as number[]);
    return t;
  }
}

export function traceTrainStep(o: TraceTrainStepOptions): TrainStepModel {
  const N = TRAIN_STEP_NAMES;
  if (!o.optimizer.stepScalars) {
    throw new ExportError(`optimizer "${o.optimizer.name}" cannot be compiled: it does not declare stepScalars(lr, t), so its learning rate and step count would be baked into the graph`);
  }
  if (!o.graph.outputs[o.loss]) throw new ExportError(`no graph output "${o.loss}" to minimize (outputs: ${Object.keys(o.graph.outputs).join(', ')})`);
  // Dropout draws with onnxruntime's RandomUniform: a fresh mask every step (not the eager stream).
  const tb = new ShapeRecordingTrace({ opset: o.opset ?? 17, random: 'onnx' });
  const feeds: Record<string, Tensor> = {};
  for (const i of o.graph.inputs) {
    const s = o.feeds[i.name];
    if (!s) throw new ExportError(`input "${i.name}" has no shape in the signature (given: ${Object.keys(o.feeds).join(', ') || 'none'})`);
    feeds[i.name] = tb.input(i.name, { shape: [...s.shape], dtype: s.dtype });
  }
  const store = new ParamStore(o.graph);
  const params: { key: string; input: string; output?: string; spec: TensorSpec }[] = [];
  for (const [key, { spec: p }] of store.specs) {
    const spec: TensorSpec = { shape: p.shape, dtype: 'float32' };
    store.set(key, tb.input(N.param(key), spec));
    params.push({ key, input: N.param(key), spec });
  }
  const slotsIn: { name: string; input: string; spec: TensorSpec }[] = [];
  const slotTensors = new Map<string, Record<string, Tensor>>();
  for (const [key, slots] of o.slots ?? []) {
    const ts: Record<string, Tensor> = {};
    for (const [slot, spec] of Object.entries(slots)) {
      const name = `${key}.${slot}`;
      ts[slot] = tb.input(N.slot(name), spec);
      slotsIn.push({ name, input: N.slot(name), spec });
    }
    slotTensors.set(key, ts);
  }
  const scalarNames = Object.keys(o.optimizer.stepScalars(1e-3, 1));
  const scalars = scalarNames.map((name) => ({ name, input: N.scalar(name) }));
  const scalarTensors = Object.fromEntries(scalarNames.map((name) => [name, tb.input(N.scalar(name), { shape: [], dtype: 'float32' })]));

  const traced = new Graph(o.graph.inputs, o.graph.nodes.map((n) => ({ ...n, layer: scopedLayer(n, tb) })), o.graph.outputs);
  const runtime = new Runtime(traced, { backend: tb, params: store });
  const slotsOut: { name: string; output: string; spec: TensorSpec }[] = [];
  try {
    withBackend(tb, () =>
      tidy(() => {
        const r = runtime.gradients(feeds, { loss: o.loss, seed: 0 });
        tb.graph.scope = 'update';
        const norm = globalNorm(r.paramGrads);
        const clipped = o.clipping.clip(r.paramGrads, norm);
        tb.output(N.loss, r.loss.rank === 0 ? r.loss : reshape(r.loss, []));
        tb.output(N.gradNorm, norm);
        for (const [key, grad] of clipped) {
          tb.graph.scope = `update/${key}`;
          const u = o.optimizer.updateWith(store.get(key), grad, slotTensors.get(key) ?? {}, scalarTensors);
          const entry = params.find((p) => p.key === key)!;
          entry.output = N.newParam(key);
          tb.output(entry.output, u.param);
          for (const [slot, t] of Object.entries(u.slots)) {
            const name = `${key}.${slot}`;
            tb.output(N.newSlot(name), t);
            slotsOut.push({ name, output: N.newSlot(name), spec: { shape: t.shape, dtype: t.dtype } });
          }
        }
      }),
    );
  } finally {
    runtime.close();
    tb.graph.scope = '';
  }
  const bytes = tb.toModel({ graphName: 'ganglion_train_step', docString: `one training step of ${o.graph.nodes.map((n) => n.name).join(', ')}, compiled by tracing` });
  const kept = new Set(tb.graph.inputNames());
  let model = bytes;
  let rewrites: RewriteStats = { padSums: 0, padLeaves: 0, matMulSums: 0, matMulLeaves: 0, batchedProducts: 0 };
  let nodeCount = tb.graph.nodeCount;
  if (o.rewrite !== false) {
    const proto = onnx.ModelProto.decode(bytes);
    rewrites = rewriteGradientSums(proto.graph!, (v) => tb.shapeOf.get(v));
    nodeCount = proto.graph!.node!.length;
    const out = onnx.ModelProto.encode(proto).finish();
    model = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return {
    bytes: model,
    feeds: o.graph.inputs.map((i) => i.name).filter((n) => kept.has(n)),
    params: params.map(({ input, ...p }) => (kept.has(input) ? { ...p, input } : p)),
    slotsIn: slotsIn.filter((s) => kept.has(s.input)),
    slotsOut,
    scalars: scalars.filter((s) => kept.has(s.input)),
    loss: N.loss,
    gradNorm: N.gradNorm,
    nodeCount,
    rewrites,
  };
}

/** The layer with its forward's ONNX nodes named after the node (`lstm1/MatMul_3`); the rest is 'backward'. */
function scopedLayer(node: GraphNode, tb: TraceBackend): Layer {
  const layer = node.layer;
  const forward = (inputs: Readonly<Record<string, Tensor>>, params: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult => {
    tb.graph.scope = node.name;
    try {
      return layer.forward(inputs, params, ctx);
    } finally {
      // What follows the last forward node is the backward wave.
      tb.graph.scope = 'backward';
    }
  };
  return Object.create(layer, { forward: { value: forward } }) as Layer;
}
