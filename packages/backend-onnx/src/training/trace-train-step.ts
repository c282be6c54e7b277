// The compiled training step's ONNX graphs, all traced by one function (traceStep) from core's
// step recipe run on a TraceBackend:
//   - fused (traceTrainStep): stepGradients (forward and backward waves, every VJP a core
//     primitive, the global gradient norm) then stepUpdates (clipping, the optimizer's update),
//     one graph: weights, slots, step scalars in; loss, gradient norm, new weights and slots out;
//   - gradients (traceGradients): stepGradients alone; the gradients are outputs, so they can be
//     reduced across workers or accumulated over micro-batches (then `grads_in/<key>` and a
//     `grad_scale` come in and `grads_in + grad_scale · gradient` goes out);
//   - apply (traceApply): stepUpdates for one group of parameters, given their gradients and the
//     global norm. Its inputs and outputs are named by position in the group (`params/0`, ...), so
//     groups of the same shapes (the blocks of a transformer) share one session;
//   - norm (traceGradNorm): the global norm of given gradients (after accumulation or reduction).
// The optimizer's step scalars are graph inputs. In graphs with a backward wave, sums of per-time-
// step gradients are rewritten into single ops (gradient-sums.ts). Each model lists which outputs
// may be written into their input's buffer (in-place.ts).
//
//   const m = traceTrainStep({ graph, optimizer, clipping, loss: 'loss', feeds: { ids: { shape: [32, 64], dtype: 'int32' }, ... } });
//   const g = traceGradients({ graph, loss: 'loss', feeds });
//   const a = traceApply({ graph, optimizer, clipping, keys: ['block1.ln1.weight', ...], slots });
import {
  type ClippingPolicy,
  type DType,
  ExportError,
  type Graph,
  type MessageFilter,
  type NodeHook,
  type Operand,
  type OpName,
  type AttrsOf,
  type Optimizer,
  ParamStore,
  Runtime,
  type Tensor,
  type TensorSpec,
  add,
  globalNorm,
  isStaticShape,
  mul,
  slice,
  stepGradients,
  stepUpdates,
  tidy,
  withBackend,
} from '@ganglion/core';
import { onnx } from '../proto.js';
import { TraceBackend, type TraceValue } from '../trace-backend.js';
import { foldTransposes } from './fold-transposes.js';
import { NO_REWRITES, type RewriteStats, rewriteGradientSums } from './gradient-sums.js';
import { inPlaceOutputs, writeOutputsDirectly } from './in-place.js';
import { recomputeCheapActivations } from './recompute.js';
import { BLOCK_BYTES, type RowBlock, rowBlocks } from './row-blocks.js';
import { pushRowSlices } from './row-slices.js';
import { type Tap, tapMessages } from './taps.js';

/** A concrete input signature: shape and dtype of each graph input. */
export type FeedSignature = Readonly<Record<string, { readonly shape: readonly number[]; readonly dtype: DType }>>;

/** Optimizer slots fed in, per parameter key (`exp_avg`, ...); absent for a parameter: its first update. */
export type SlotSpecs = ReadonlyMap<string, Readonly<Record<string, TensorSpec>>>;

export interface TraceTrainStepOptions {
  /** Its parameters (shapes from their specs) are graph inputs; no value is read. */
  readonly graph: Graph;
  readonly optimizer: Optimizer;
  readonly clipping: ClippingPolicy;
  /** The graph output to minimize. */
  readonly loss: string;
  readonly feeds: FeedSignature;
  /**
   * The optimizer slots fed in, per parameter key (`exp_avg`, ...). Absent or empty for a
   * parameter: its update runs as the optimizer's first one (torch's "no state yet" branch).
   */
  readonly slots?: SlotSpecs;
  /** Default 17. */
  readonly opset?: number;
  /** Rewrite per-step gradient sums into Concat / one Gemm (default true). */
  readonly rewrite?: boolean;
  /** Recompute cheap large activations in the backward instead of keeping them (recompute.ts; default true). */
  readonly recompute?: boolean;
  /** Messages to add as outputs (`Runtime.watch` filters; see taps.ts). */
  readonly taps?: readonly MessageFilter[];
}

export interface TraceGradientsOptions extends Omit<TraceTrainStepOptions, 'optimizer' | 'clipping' | 'slots'> {
  /** Add the gradients into `grads_in/<key>` inputs, scaled by a `grad_scale` input (default false). */
  readonly accumulate?: boolean;
  /**
   * A gradient above this many bytes (default BLOCK_BYTES) is returned as one output per block of
   * rows (`grads[i].rows`), except when accumulating.
   */
  readonly blockBytes?: number;
}

export interface TraceApplyOptions {
  readonly graph: Graph;
  readonly optimizer: Optimizer;
  readonly clipping: ClippingPolicy;
  /** The group's parameters, in the order of the graph's positional names. */
  readonly keys: readonly string[];
  readonly slots?: SlotSpecs;
  /**
   * Shapes to trace some parameters (and their gradients) at instead of the graph's: a block of a
   * parameter's rows, updated by an elementwise optimizer (`slots` then gives the block's shapes).
   */
  readonly shapes?: ReadonlyMap<string, readonly number[]>;
  readonly opset?: number;
}

export type StepPart = 'fused' | 'gradients' | 'apply' | 'norm';

/** Names of a model's inputs and outputs, so a runner can feed and collect them. */
export interface TrainStepModel {
  readonly part: StepPart;
  readonly bytes: Uint8Array;
  /** Graph inputs the model reads, by their own names. */
  readonly feeds: readonly string[];
  /**
   * Every parameter the graph sees: the input it is fed through (absent when nothing reads it) and,
   * for those the optimizer updates, the output of its new value.
   */
  readonly params: readonly {
    readonly key: string;
    readonly input?: string;
    readonly output?: string;
    readonly spec: TensorSpec;
  }[];
  /** Gradients: outputs of `gradients`, inputs of `apply` and `norm` (and of `gradients` when accumulating). */
  readonly grads: readonly {
    readonly key: string;
    readonly input?: string;
    readonly output?: string;
    /** A large gradient of `gradients` comes as one output per block of rows instead (row-blocks.ts). */
    readonly rows?: readonly (RowBlock & { readonly output: string })[];
    readonly spec: TensorSpec;
  }[];
  /** Slots fed in (`input`) and produced (`output`), keyed `<param key>.<slot>`. */
  readonly slotsIn: readonly { readonly name: string; readonly input: string; readonly spec: TensorSpec }[];
  readonly slotsOut: readonly { readonly name: string; readonly output: string; readonly spec: TensorSpec }[];
  /** Step scalars by name (`stepScalars(lr, t)`'s keys, and `grad_scale`) and the input each is fed through. */
  readonly scalars: readonly { readonly name: string; readonly input: string }[];
  /** The loss output (fused and gradients). */
  readonly loss?: string;
  /** The gradient norm: an output, except in `apply`, where it comes in. */
  readonly gradNorm: string;
  /** Outputs onnxruntime may write into the buffer of the input of the same value (in-place.ts). */
  readonly inPlace: ReadonlySet<string>;
  /** Nodes in the model, and what the gradient-sum rewrite did. */
  readonly nodeCount: number;
  readonly rewrites: RewriteStats;
  /** The tapped messages among the outputs. */
  readonly taps: readonly Tap[];
}

export const TRAIN_STEP_NAMES = {
  param: (key: string) => `params/${key}`,
  newParam: (key: string) => `new_params/${key}`,
  slot: (name: string) => `slots/${name}`,
  newSlot: (name: string) => `new_slots/${name}`,
  grad: (key: string) => `grads/${key}`,
  gradRows: (key: string, start: number) => `grads/${key}@${start}`,
  gradIn: (key: string) => `grads_in/${key}`,
  scalar: (name: string) => `scalars/${name}`,
  loss: 'step/loss',
  gradNorm: 'step/grad_norm',
  gradScale: 'grad_scale',
} as const;

/** A TraceBackend that remembers the shape of every value a primitive produced (for the rewrites). */
export class ShapeRecordingTrace extends TraceBackend {
  readonly shapeOf = new Map<string, readonly number[]>();

  override execute<K extends OpName>(
    op: K,
    inputs: readonly Operand<TraceValue>[],
    attrs: AttrsOf<K>,
    out: TensorSpec,
  ): TraceValue {
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

/** One whole training step as one graph. */
export function traceTrainStep(o: TraceTrainStepOptions): TrainStepModel {
  return traceStep({ ...o, part: 'fused' });
}

/** Forward and backward: loss, gradient norm and every parameter's gradient as outputs. */
export function traceGradients(o: TraceGradientsOptions): TrainStepModel {
  return traceStep({ ...o, part: 'gradients' });
}

/** Clipping and the optimizer's update of one group of parameters. */
export function traceApply(o: TraceApplyOptions): TrainStepModel {
  return traceStep({ ...o, part: 'apply' });
}

/** The global norm of the gradients of `keys` (every parameter with a gradient). */
export function traceGradNorm(o: {
  readonly graph: Graph;
  readonly keys: readonly string[];
  readonly opset?: number;
}): TrainStepModel {
  return traceStep({ ...o, part: 'norm' });
}

interface StepSpec {
  readonly part: StepPart;
  readonly graph: Graph;
  readonly optimizer?: Optimizer;
  readonly clipping?: ClippingPolicy;
  readonly loss?: string;
  readonly feeds?: FeedSignature;
  readonly slots?: SlotSpecs;
  readonly keys?: readonly string[];
  readonly shapes?: ReadonlyMap<string, readonly number[]>;
  readonly accumulate?: boolean;
  readonly blockBytes?: number;
  readonly opset?: number;
  readonly rewrite?: boolean;
  readonly recompute?: boolean;
  readonly taps?: readonly MessageFilter[];
}

type Entry = {
  key: string;
  input?: string;
  output?: string;
  rows?: (RowBlock & { output: string })[];
  spec: TensorSpec;
};

function traceStep(s: StepSpec): TrainStepModel {
  const N = TRAIN_STEP_NAMES;
  const backward = s.part === 'fused' || s.part === 'gradients';
  const update = s.part === 'fused' || s.part === 'apply';
  if (backward && !s.graph.outputs[s.loss!])
    throw new ExportError(
      `no graph output "${s.loss}" to minimize (outputs: ${Object.keys(s.graph.outputs).join(', ')})`,
    );
  // Dropout draws with onnxruntime's RandomUniform: a fresh mask every step (not the eager stream).
  const tb = new ShapeRecordingTrace({ opset: s.opset ?? 17, random: 'onnx' });
  const store = new ParamStore(s.graph);
  const specOf = (key: string): TensorSpec => {
    const entry = store.specs.get(key);
    if (!entry)
      throw new ExportError(`no parameter "${key}" in the graph (parameters: ${[...store.specs.keys()].join(', ')})`);
    return { shape: s.shapes?.get(key) ?? entry.spec.shape, dtype: 'float32' };
  };
  // apply and norm name their values by position in the group, so same-shaped groups share a graph.
  const keys = s.keys ?? [...store.specs.keys()];
  const nameOf = new Map(keys.map((key, i) => [key, backward ? key : String(i)]));
  const params: Entry[] = [];
  const grads: Entry[] = [];
  const slotsIn: { name: string; input: string; spec: TensorSpec }[] = [];
  const slotsOut: { name: string; output: string; spec: TensorSpec }[] = [];
  const scalars: { name: string; input: string }[] = [];
  const scalar = (name: string): Tensor => {
    scalars.push({ name, input: N.scalar(name) });
    return tb.input(N.scalar(name), { shape: [], dtype: 'float32' });
  };
  const inPlacePairs: [string, string][] = [];
  const paramInputs = new Map<string, Tensor>();
  let runtime: Runtime | undefined;
  let tapping: ReturnType<typeof tapMessages> | undefined;
  try {
    withBackend(tb, () =>
      tidy(() => {
        let gradients: Map<string, Tensor>;
        let gradNorm: Tensor;
        for (const key of s.part === 'norm' ? [] : keys) {
          const input = N.param(nameOf.get(key)!);
          paramInputs.set(key, tb.input(input, specOf(key)));
          // The forward reads the store, which checks the graph's shapes (apply may trace a block).
          if (backward) store.set(key, paramInputs.get(key)!);
          params.push({ key, input, spec: specOf(key) });
        }
        if (backward) {
          const feeds = feedInputs(tb, s.graph, s.feeds!);
          runtime = new Runtime(s.graph, { backend: tb, params: store, nodeHook: scopeByNode(tb) });
          tapping = tapMessages(runtime, tb, s.taps ?? []);
          const g = stepGradients(runtime, feeds, { loss: s.loss!, seed: 0 });
          tb.output(N.loss, g.loss);
          // The gradients graph outputs its norm below (from the blocks, when a gradient has them).
          if (s.part === 'fused') tb.output(N.gradNorm, g.gradNorm);
          gradients = g.paramGrads;
          gradNorm = g.gradNorm;
        } else {
          gradients = new Map(keys.map((key) => [key, tb.input(N.grad(nameOf.get(key)!), specOf(key))]));
          for (const key of keys) grads.push({ key, input: N.grad(nameOf.get(key)!), spec: specOf(key) });
          gradNorm = s.part === 'norm' ? globalNorm(gradients) : tb.input(N.gradNorm, { shape: [], dtype: 'float32' });
          if (s.part === 'norm') tb.output(N.gradNorm, gradNorm);
        }
        tb.graph.scope = 'update';
        if (s.part === 'gradients') {
          const scale = s.accumulate ? scalar(N.gradScale) : undefined;
          // What the norm reads: each gradient, or its blocks, so nothing but the blocks reads a
          // blocked gradient and pushRowSlices can compute it a block at a time.
          const parts = new Map<string, Tensor>();
          for (const [key, g] of gradients) {
            const entry: Entry = { key, output: N.grad(key), spec: specOf(key) };
            let value = g;
            if (scale) {
              entry.input = N.gradIn(key);
              value = add(tb.input(entry.input, entry.spec), mul(g, scale));
              inPlacePairs.push([entry.input, entry.output!]);
            }
            const blocks = scale ? undefined : rowBlocks(entry.spec.shape as number[], s.blockBytes ?? BLOCK_BYTES);
            if (blocks) {
              entry.rows = blocks.map((b) => ({ ...b, output: N.gradRows(key, b.start) }));
              for (const b of entry.rows) {
                const block = slice(value, [b.start], [b.start + b.count], [0]);
                tb.output(b.output, block);
                parts.set(b.output, block);
              }
              delete entry.output;
            } else {
              tb.output(entry.output!, value);
              parts.set(key, g);
            }
            grads.push(entry);
          }
          tb.output(N.gradNorm, [...gradients.keys()].some((k) => !parts.has(k)) ? globalNorm(parts) : gradNorm);
        }
        if (update) {
          const slotTensors = new Map<string, Record<string, Tensor>>();
          for (const key of keys) {
            const ts: Record<string, Tensor> = {};
            for (const [slot, spec] of Object.entries(s.slots?.get(key) ?? {})) {
              const name = `${nameOf.get(key)}.${slot}`;
              ts[slot] = tb.input(N.slot(name), spec);
              slotsIn.push({ name: `${key}.${slot}`, input: N.slot(name), spec });
            }
            slotTensors.set(key, ts);
          }
          const scalarTensors = Object.fromEntries(
            Object.keys(s.optimizer!.stepScalars(1e-3, 1)).map((name) => [name, scalar(name)]),
          );
          const updated = new Map([...gradients].filter(([key]) => nameOf.has(key)));
          const updates = stepUpdates(
            { optimizer: s.optimizer!, clipping: s.clipping! },
            updated,
            gradNorm,
            (k) => paramInputs.get(k)!,
            (k) => slotTensors.get(k) ?? {},
            scalarTensors,
          );
          for (const [key, u] of updates) {
            const entry = params.find((p) => p.key === key)!;
            entry.output = N.newParam(nameOf.get(key)!);
            tb.output(entry.output, u.param);
            inPlacePairs.push([entry.input!, entry.output]);
            for (const [slot, t] of Object.entries(u.slots)) {
              const name = `${nameOf.get(key)}.${slot}`;
              tb.output(N.newSlot(name), t);
              slotsOut.push({
                name: `${key}.${slot}`,
                output: N.newSlot(name),
                spec: { shape: t.shape, dtype: t.dtype },
              });
              if (slotTensors.get(key)?.[slot]) inPlacePairs.push([N.slot(name), N.newSlot(name)]);
            }
          }
        }
      }),
    );
  } finally {
    tapping?.stop();
    runtime?.close();
    tb.graph.scope = '';
  }
  const names = s.graph.nodes.map((n) => n.name).join(', ');
  const bytes = tb.toModel({
    graphName: `ganglion_${s.part}`,
    docString: `the ${s.part} graph of a training step of ${names}, compiled by tracing`,
  });
  const kept = new Set(tb.graph.inputNames());
  const proto = onnx.ModelProto.decode(bytes);
  let rewrites: RewriteStats = NO_REWRITES;
  if (backward && s.rewrite !== false) {
    const shapeOf = (v: string) => tb.shapeOf.get(v);
    const sums = rewriteGradientSums(proto.graph!, shapeOf);
    const folds = foldTransposes(proto.graph!, shapeOf, s.opset ?? 17);
    const blocks = grads.flatMap((g) => (g.rows ?? []).map((b) => b.output));
    rewrites = { ...sums, folds, rowSlices: pushRowSlices(proto.graph!, shapeOf, blocks) };
  }
  if (backward && s.recompute !== false)
    recomputeCheapActivations(
      proto.graph!,
      (n) => n.name?.startsWith('backward/') ?? false,
      (v) => tb.shapeOf.get(v),
    );
  writeOutputsDirectly(proto.graph!);
  const out = onnx.ModelProto.encode(proto).finish();
  return {
    part: s.part,
    bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
    feeds: backward ? s.graph.inputs.map((i) => i.name).filter((n) => kept.has(n)) : [],
    params: params.map(({ input, ...p }) => (input && kept.has(input) ? { ...p, input } : p)),
    grads: grads.map(({ input, ...g }) => (input && kept.has(input) ? { ...g, input } : g)),
    slotsIn: slotsIn.filter((x) => kept.has(x.input)),
    slotsOut,
    scalars: scalars.filter((x) => kept.has(x.input)),
    loss: backward ? N.loss : undefined,
    gradNorm: N.gradNorm,
    inPlace: inPlaceOutputs(
      proto.graph!,
      inPlacePairs.filter(([i]) => kept.has(i)),
    ),
    nodeCount: proto.graph!.node!.length,
    rewrites,
    taps: tapping?.taps ?? [],
  };
}

function feedInputs(tb: TraceBackend, graph: Graph, signature: FeedSignature): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const i of graph.inputs) {
    const s = signature[i.name];
    if (!s)
      throw new ExportError(
        `input "${i.name}" has no shape in the signature (given: ${Object.keys(signature).join(', ') || 'none'})`,
      );
    feeds[i.name] = tb.input(i.name, { shape: [...s.shape], dtype: s.dtype });
  }
  return feeds;
}

/** Names each node's forward ONNX nodes after the node (`lstm1/MatMul_3`); what follows the last forward node is 'backward'. */
function scopeByNode(tb: TraceBackend): NodeHook {
  return (call) => {
    tb.graph.scope = call.node.name;
    try {
      return call.forward();
    } finally {
      tb.graph.scope = 'backward';
    }
  };
}
