// exportOnnx: a Ganglion graph and its parameters -> ONNX ModelProto bytes, by tracing. The graph's
// own forward message flow runs once on a TraceBackend (the RxJS runtime, unchanged): graph inputs
// are trace tensors with symbolic dims, parameters become initializers named `<node>.<param>`, and
// every node runs inside a thin tracing wrapper that names the ONNX nodes after it, uses the
// layer's native lowering when it has one, and (stateful export) feeds and collects its state.
import {
  type DType,
  ExportError,
  Graph,
  type GraphNode,
  type LayerContext,
  type NodeHook,
  ParamStore,
  Runtime,
  type Shape,
  Tensor,
  formatShape,
  hasOnnxLowering,
  withBackend,
} from '@ganglion/core';
import { type WeightStorage, type WeightStorageReport, checkWeightStorage, quantizeModel } from './quantize.js';
import { POSITION_IDS, type PositionRowsInput, TraceBackend, type TraceOptions, checkOpset } from './trace-backend.js';

/**
 * `quantize: 'int8'` stores the parameters that are weight matrices and embedding tables as int8
 * with per-channel scales (DequantizeLinear); `dtype: 'float16'` stores the other large float
 * tensors (all of them without `quantize`) as float16 (Cast). The model computes in float32 either
 * way (see quantize.ts).
 *
 *   traceModel(graph, params, { stateful: true, quantize: 'int8' }).weights   // what was converted
 */
export interface ExportOptions extends TraceOptions, WeightStorage {
  /**
   * The shape each graph input is traced with (default: its declared shape). Symbolic dims
   * ('batch', 'time') become dim_params; concrete ones are fixed in the model.
   *
   *   { inputs: { ids: ['batch', 'time'] } }   or   { inputs: { ids: [1, 'time'] } }
   */
  readonly inputs?: Readonly<Record<string, Shape>>;
  /** Which graph outputs to export (default: all). Nodes and inputs they do not need are dropped. */
  readonly outputs?: readonly string[];
  /**
   * Recurrent state as extra inputs `state_in.<node>.<key>` and outputs `state_out.<node>.<key>`
   * (LSTM: h and c), so a deployed model runs token by token; feed zeros on the first step.
   * Attention caches are `past_key_values.N.key/.value` in and `present.N.key/.value` out (empty on
   * the first step), and position-dependent layers add an input `position_ids` [batch, time] int32:
   * the stream positions of the wave's tokens.
   */
  readonly stateful?: boolean;
  /** String metadata stored in the model's metadata_props (e.g. a vocabulary as JSON). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Use layers' native ONNX lowerings (LSTM -> ONNX LSTM). Default true. */
  readonly native?: boolean;
  readonly graphName?: string;
  readonly docString?: string;
}

export interface ValueDescription {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** One carried state tensor of a stateful export. */
export interface StateBinding {
  readonly node: string;
  readonly key: string;
  /** The model input that receives it (`state_in.<node>.<key>`, or `past_key_values.N.<key>` for an attention cache). */
  readonly input: string;
  /** The model output that returns its next value (`state_out.<node>.<key>`, or `present.N.<key>`). */
  readonly output: string;
  /** Its shape; feed zeros on the first step, with `past_sequence_length` 0 (an empty cache). */
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface ExportedModel {
  readonly bytes: Uint8Array;
  /** Model inputs (graph inputs the outputs need, then state inputs). */
  readonly inputs: readonly ValueDescription[];
  readonly outputs: readonly ValueDescription[];
  readonly state: readonly StateBinding[];
  /** Position tables the caller feeds for each wave (`positionRows: 'input'`). */
  readonly positionRows: readonly PositionRowsInput[];
  /** What `quantize` / `dtype: 'float16'` converted, and the sizes before and after; absent without them. */
  readonly weights?: WeightStorageReport;
}

/** The free dim along a KV cache's time axis in a stateful export; 0 on the first step. */
export const PAST_SEQUENCE_LENGTH = 'past_sequence_length';

/**
 * Metadata key holding how many stream positions a position-dependent export covers (its RoPE and
 * sinusoidal tables; options.maxPositions), when it has any.
 */
export const MAX_POSITIONS_METADATA_KEY = 'ganglion.max_positions';

/** Metadata key holding the state bindings of a stateful export, as JSON. */
export const STATE_METADATA_KEY = 'ganglion.state';

/**
 * Export a graph to ONNX: the ModelProto bytes.
 *
 *   const bytes = exportOnnx(graph, runtime.params, { inputs: { ids: ['batch', 'time'] }, outputs: ['logits'] });
 */
export function exportOnnx(graph: Graph, params: ParamStore, options: ExportOptions = {}): Uint8Array {
  return traceModel(graph, params, options).bytes;
}

/** Export, and describe the model's inputs, outputs and state bindings. */
export function traceModel(graph: Graph, params: ParamStore, options: ExportOptions = {}): ExportedModel {
  checkOpset(options.opset ?? 17);
  checkWeightStorage(options);
  const outputs = checkOutputs(graph, options.outputs);
  checkInputs(graph, options.inputs);
  const metadata = checkMetadata(options.metadata);

  let stateSpecs: Map<string, Record<string, StateBinding>> | undefined;
  if (options.stateful) {
    // A first trace discovers which nodes carry state, and its keys and shapes.
    const probe = tracePass(graph, params, options, outputs, undefined);
    stateSpecs = stateBindings(graph, probe.stateOut);
  }
  const pass = tracePass(graph, params, options, outputs, stateSpecs);
  const tb = pass.tb;

  const described: ValueDescription[] = [];
  for (const name of outputs) {
    const t = pass.outputs[name];
    tb.output(name, t);
    described.push({ name, shape: t.shape, dtype: t.dtype });
  }
  const state: StateBinding[] = [];
  for (const [node, bindings] of stateSpecs ?? []) {
    const produced = pass.stateOut.get(node) ?? {};
    for (const [key, binding] of Object.entries(bindings)) {
      const t = produced[key];
      if (!t)
        throw new ExportError(
          `stateful export: node "${node}" returned state "${key}" on the first trace but not on the second`,
        );
      tb.output(binding.output, t);
      described.push({ name: binding.output, shape: t.shape, dtype: t.dtype });
      state.push(binding);
    }
  }
  const allMetadata: Record<string, string> = { ...metadata, 'ganglion.graph': JSON.stringify(graph.toJSON()) };
  if (options.stateful) allMetadata[STATE_METADATA_KEY] = JSON.stringify(state);
  if (tb.usesPositions) allMetadata[MAX_POSITIONS_METADATA_KEY] = String(tb.maxPositions);
  const traced = tb.toModel({
    graphName: options.graphName ?? 'ganglion',
    docString:
      options.docString ??
      `Ganglion graph (${graph.nodes.map((n) => `${n.name}: ${n.layer.kind}`).join(', ')}), exported by tracing`,
    metadata: allMetadata,
  });
  const narrow = options.quantize !== undefined || options.dtype === 'float16';
  const stored = narrow
    ? quantizeModel(traced, { quantize: options.quantize, dtype: options.dtype, quantizable: new Set(params.keys()) })
    : undefined;
  const bytes = stored?.bytes ?? traced;
  const kept = new Set(tb.graph.inputNames());
  const inputs: ValueDescription[] = [
    ...graph.inputs
      .filter((i) => kept.has(i.name))
      .map((i) => ({ name: i.name, shape: options.inputs?.[i.name] ?? i.spec.shape, dtype: i.spec.dtype })),
    ...(kept.has(POSITION_IDS) ? [{ name: POSITION_IDS, ...tb.positionsSpec() }] : []),
    ...state.filter((s) => kept.has(s.input)).map((s) => ({ name: s.input, shape: s.shape, dtype: s.dtype })),
  ];
  const positionRows = [...tb.positionRowsInputs.values()].filter((r) => kept.has(r.input));
  for (const r of positionRows) inputs.push({ name: r.input, shape: r.shape, dtype: 'float32' });
  return { bytes, inputs, outputs: described, state, positionRows, ...(stored && { weights: stored.report }) };
}

interface Pass {
  readonly tb: TraceBackend;
  readonly outputs: Record<string, Tensor>;
  readonly stateOut: Map<string, Readonly<Record<string, Tensor>>>;
}

/**
 * Name each state tensor the probe trace returned: `state_in.<node>.<key>` / `state_out.<node>.<key>`,
 * or for attention caches (`onnxState: 'kv-cache'`) `past_key_values.N.<key>` / `present.N.<key>`
 * with a free `past_sequence_length` along the cache's time axis.
 */
function stateBindings(
  graph: Graph,
  probed: Map<string, Readonly<Record<string, Tensor>>>,
): Map<string, Record<string, StateBinding>> {
  const out = new Map<string, Record<string, StateBinding>>();
  let layer = 0;
  for (const n of graph.nodes) {
    const s = probed.get(n.name);
    if (!s) continue;
    const kv = hasOnnxLowering(n.layer) && n.layer.onnxState === 'kv-cache';
    const index = kv ? layer++ : -1;
    const bindings: Record<string, StateBinding> = {};
    for (const [key, t] of Object.entries(s)) {
      if (kv && t.rank !== 4)
        throw new ExportError(
          `stateful export: node "${n.name}" returned a ${t.rank}-D "${key}" cache; a KV cache is [batch, heads, time, headDim]`,
        );
      const shape = kv ? t.shape.map((d, k) => (k === 2 ? PAST_SEQUENCE_LENGTH : d)) : t.shape;
      const [input, output] = kv
        ? [`past_key_values.${index}.${key}`, `present.${index}.${key}`]
        : [`state_in.${n.name}.${key}`, `state_out.${n.name}.${key}`];
      bindings[key] = { node: n.name, key, input, output, shape, dtype: t.dtype };
    }
    out.set(n.name, bindings);
  }
  return out;
}

function tracePass(
  graph: Graph,
  params: ParamStore,
  options: ExportOptions,
  outputs: readonly string[],
  stateSpecs: Map<string, Record<string, StateBinding>> | undefined,
): Pass {
  const tb = new TraceBackend(options);
  tb.stateful = options.stateful === true;
  const feeds: Record<string, Tensor> = {};
  for (const i of graph.inputs)
    feeds[i.name] = tb.input(i.name, { shape: options.inputs?.[i.name] ?? i.spec.shape, dtype: i.spec.dtype });
  const stateIn = new Map<string, Record<string, Tensor>>();
  for (const [node, bindings] of stateSpecs ?? []) {
    stateIn.set(
      node,
      Object.fromEntries(
        Object.entries(bindings).map(([key, b]) => [key, tb.input(b.input, { shape: b.shape, dtype: b.dtype })]),
      ),
    );
  }
  const store = new ParamStore(graph);
  for (const key of store.keys()) {
    if (!params.has(key)) throw new ExportError(`parameter "${key}" is missing from the parameter store`);
    const src = params.get(key);
    store.set(key, tb.parameter(key, src.dataSync(), { shape: src.shape, dtype: src.dtype }));
  }
  const ctx: TracingContext = { tb, native: options.native ?? true, stateIn, stateOut: new Map() };
  const traced = new Graph(graph.inputs, graph.nodes, Object.fromEntries(outputs.map((o) => [o, graph.outputs[o]])));
  const runtime = new Runtime(traced, { backend: tb, params: store, nodeHook: tracingHook(ctx) });
  try {
    // The trace is the current backend too, so ops without inputs (random) and constants land on it.
    const out = withBackend(tb, () => runtime.forward(feeds));
    return { tb, outputs: out, stateOut: ctx.stateOut };
  } catch (e) {
    throw ctx.failure ?? asExportError(e);
  } finally {
    runtime.close();
  }
}

interface TracingContext {
  readonly tb: TraceBackend;
  readonly native: boolean;
  readonly stateIn: Map<string, Record<string, Tensor>>;
  readonly stateOut: Map<string, Readonly<Record<string, Tensor>>>;
  /** The first error a node raised (the runtime rewraps errors; this one names the node). */
  failure?: ExportError;
}

/**
 * How the tracer runs each node: it sets the naming scope, runs the native lowering when there is
 * one, swaps in the state inputs and records the state the node returns.
 */
function tracingHook(ctx: TracingContext): NodeHook {
  return (call) => {
    const { node } = call;
    const native = ctx.native && call.lowerOnnx !== undefined;
    ctx.tb.current = { node: node.name, kind: node.layer.kind };
    ctx.tb.graph.scope = node.name;
    try {
      const state = ctx.stateIn.get(node.name);
      const c: LayerContext = state ? { ...call.ctx, state } : call.ctx;
      const result = native ? call.lowerOnnx!(ctx.tb, c) : call.forward(c);
      if (!(result instanceof Tensor) && result.state) ctx.stateOut.set(node.name, result.state);
      return result;
    } catch (e) {
      ctx.failure ??= nodeError(node, e, native);
      throw ctx.failure;
    } finally {
      ctx.tb.current = undefined;
      ctx.tb.graph.scope = '';
    }
  };
}

function nodeError(node: GraphNode, e: unknown, native: boolean): ExportError {
  const message = e instanceof Error ? e.message : String(e);
  let hint = '';
  if (/symbolic|concrete/.test(message)) {
    hint =
      hasOnnxLowering(node.layer) && !native
        ? ' (trace it with concrete dims via options.inputs, or export with native: true)'
        : ' (trace it with concrete dims via options.inputs)';
  }
  const err = new ExportError(`cannot export node "${node.name}" (${node.layer.kind}): ${message}${hint}`);
  (err as { cause?: unknown }).cause = e;
  return err;
}

function asExportError(e: unknown): ExportError {
  if (e instanceof ExportError) return e;
  const err = new ExportError(`export failed: ${e instanceof Error ? e.message : String(e)}`);
  (err as { cause?: unknown }).cause = e;
  return err;
}

function checkOutputs(graph: Graph, wanted: readonly string[] | undefined): string[] {
  const all = Object.keys(graph.outputs);
  const list = wanted ?? all;
  if (list.length === 0) throw new ExportError('options.outputs is empty: export at least one graph output');
  for (const o of list) {
    if (!all.includes(o))
      throw new ExportError(`options.outputs names "${o}", which is not a graph output (outputs: ${all.join(', ')})`);
  }
  return [...list];
}

function checkInputs(graph: Graph, shapes: Readonly<Record<string, Shape>> | undefined): void {
  for (const [name, shape] of Object.entries(shapes ?? {})) {
    const input = graph.inputs.find((i) => i.name === name);
    if (!input)
      throw new ExportError(
        `options.inputs names "${name}", which is not a graph input (inputs: ${graph.inputs.map((i) => i.name).join(', ')})`,
      );
    const declared = input.spec.shape;
    const fits =
      shape.length === declared.length && shape.every((d, k) => typeof declared[k] !== 'number' || d === declared[k]);
    if (!fits)
      throw new ExportError(
        `options.inputs: input "${name}" is declared ${formatShape(declared)}; it cannot be traced as ${formatShape(shape)}`,
      );
  }
}

function checkMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string')
      throw new ExportError(`metadata "${k}" must be a string, got ${typeof v} (serialize it, e.g. JSON.stringify)`);
    out[k] = v;
  }
  return out;
}
