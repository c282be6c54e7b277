// Native ONNX lowerings: the contract between a layer and the ONNX exporter. A layer may implement
// `lowerOnnx` to emit ONNX nodes directly (LSTM -> ONNX `LSTM`) instead of tracing its `forward`
// primitive by primitive. The exporter lives in @ganglion/backend-onnx and implements `OnnxBuilder`;
// layers see only these interfaces, so they never import a backend.

import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import type { Layer, LayerContext, LayerResult } from '../graph/layer.js';
import type { Tensor } from '../tensor.js';

/** An ONNX node attribute, typed as ONNX types it (an int and a float are different attributes). */
export type OnnxAttribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] };

/** Attribute constructors: `{ hidden_size: onnxAttr.int(64), direction: onnxAttr.string('forward') }`. */
export const onnxAttr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  string: (value: string): OnnxAttribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value }),
  strings: (value: readonly string[]): OnnxAttribute => ({ type: 'strings', value }),
} as const;

/** The elementwise ONNX ops `OnnxBuilder.elementwise` emits (their output specs are inferred). */
export type OnnxElementwiseOp =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'And'
  | 'Or'
  | 'Equal'
  | 'Less'
  | 'LessOrEqual'
  | 'Greater'
  | 'GreaterOrEqual'
  | 'Where';

/**
 * What a native lowering may do besides running core ops (which keep tracing as usual on the
 * tensors it receives): emit ONNX nodes, raw (`op`, output specs given) or through the typed helpers
 * that infer them (`elementwise`, `cast`, `unsqueeze`, `dim`).
 *
 *   const [y, yh] = b.op('GRU', [x, w, r, bias], { hidden_size: onnxAttr.int(H) }, [ySpec, hSpec]);
 */
export interface OnnxBuilder {
  /** The ONNX opset being written (17..26). */
  readonly opset: number;
  /**
   * Emit one ONNX node of the default domain. `undefined` inputs leave an optional input empty;
   * `outputs` gives the spec of each output the node produces (symbolic dims allowed). Returns the
   * outputs as tensors of the trace.
   */
  op(
    opType: string,
    inputs: readonly (Tensor | undefined)[],
    attrs: Readonly<Record<string, OnnxAttribute>>,
    outputs: readonly TensorSpec[],
  ): Tensor[];
  /**
   * One elementwise node with numpy broadcasting; its output spec is inferred: the inputs' broadcast
   * shape, dtype bool for comparisons and `And`, else that of the value inputs (`Where`: x and y).
   *
   *   const ok = b.elementwise('GreaterOrEqual', [distance, zero]);
   */
  elementwise(opType: OnnxElementwiseOp, inputs: readonly Tensor[]): Tensor;
  /** ONNX `Cast` to `dtype` (its element type code written for you); same shape. */
  cast(x: Tensor, dtype: DType): Tensor;
  /** ONNX `Unsqueeze`: size-1 axes inserted at `axes` (axes of the output). */
  unsqueeze(x: Tensor, axes: readonly number[]): Tensor;
  /** The length of `x`'s axis `axis` at run time, an int32 scalar (a constant when the dim is concrete). */
  dim(x: Tensor, axis: number): Tensor;
  /**
   * The absolute stream positions of this wave's tokens, int32 [batch or 1, time], for a
   * [batch, time, ...] input `like`: in a stateful export the model input `position_ids`
   * [batch, time] (the caller feeds them, as Hugging Face decoder exports take them); otherwise
   * 0 .. time - 1 computed in the graph, as [1, time]. Position-dependent layers (RoPE, position
   * embeddings, causal masks over a KV cache) use it in place of `ctx.context.position`, which is a
   * trace-time number.
   */
  positions(like: Tensor): Tensor;
  /**
   * A 1-D ONNX int64 constant (axes, slice bounds and shapes of raw `op` nodes). Core has no int64
   * dtype: the tensor says int32, and is only for `op` inputs that ONNX types int64.
   */
  int64(values: readonly number[]): Tensor;
  /** Whether this is a stateful export (state in and out; `positions` is a model input). */
  readonly stateful: boolean;
  /** Positions a table-based lowering (RoPE cos/sin, sinusoidal tables) must cover; a larger position fails in onnxruntime. */
  readonly maxPositions: number;
  /**
   * Rows of a position table at this wave's positions, float32 [B|1, time, width]: row p is
   * `rows(p, 1)`, and `rows(start, count)` gives rows start .. start + count - 1 (row-major,
   * computed on the host, e.g. in float64). The exporter either writes the table for positions
   * 0 .. maxPositions - 1 into the model and gathers from it, or (`positionRows: 'input'`) takes the
   * wave's rows as a model input its caller computes with `rows`, so nothing grows with the stream.
   * `key` names the table (equal keys share it).
   */
  positionRows(key: string, width: number, like: Tensor, rows: (start: number, count: number) => Float64Array): Tensor;
  // `like`: a [batch, time, ...] input of the wave, or the wave's positions themselves.
}

/** A layer with a native ONNX lowering. `lowerOnnx` returns what `forward` would (outputs, state). */
export interface OnnxLowerable {
  /**
   * Emit this layer's computation as ONNX nodes. Inputs, parameters and the context are those
   * `forward` gets (tensors of the trace; `ctx.state` holds the carried state in a stateful export).
   * It must compute what `forward` computes; the exporter's tests hold it to that.
   */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult;
  /**
   * How a stateful export names this layer's state. Default: `state_in.<node>.<key>` /
   * `state_out.<node>.<key>`. 'kv-cache': the state is an attention cache { key, value }
   * [batch, heads, past_sequence_length, headDim], exported as `past_key_values.N.key` / `.value`
   * in and `present.N.key` / `.value` out, N counting the graph's cache layers from 0 (the layout
   * of onnxruntime-genai and optimum); the first step feeds past_sequence_length 0.
   */
  readonly onnxState?: 'kv-cache';
}

/** Whether a layer provides a native ONNX lowering. */
export function hasOnnxLowering(layer: Layer): layer is Layer & OnnxLowerable {
  return typeof (layer as Partial<OnnxLowerable>).lowerOnnx === 'function';
}
