// The pieces of the transformer layers' native ONNX lowerings that depend on where a wave sits in
// the stream. `forward` builds RoPE tables and causal masks on the host from `ctx.context.position`
// and concrete time dims; an exported model must build them in the graph, from the positions of the
// wave's tokens (`b.positions`: the `position_ids` input of a stateful export, 0 .. time-1
// otherwise) and the run-time lengths of the time and cache axes. The values are the same:
// - RoPE's cos/sin rows come from `b.positionRows`: computed on the host in float64, as `forward`
//   does (computing the angles in float32 in the graph would be off by ~1e-5 at position 300),
//   either as a table in the model gathered by position, or fed per wave by the caller;
// - the mask is 0 or MASKED, exactly as `attentionBias`, from integer position differences.
import {
  type OnnxBuilder,
  type Tensor,
  type TensorSpec,
  add,
  keep,
  mul,
  onnxAttr,
  reshape,
  tensor,
} from '@ganglion/core';
import { MASKED } from './attention.js';
import { rowsTimes } from './linear.js';
import { rotaryValues, rotateHalfMatrix } from './rotary-embedding.js';

/** One ONNX node with one output of `spec`. */
function op1(
  b: OnnxBuilder,
  type: string,
  inputs: readonly (Tensor | undefined)[],
  spec: TensorSpec,
  attrs: Parameters<OnnxBuilder['op']>[2] = {},
): Tensor {
  return b.op(type, inputs, attrs, [spec])[0];
}

/** LayerNorm over the last axis as one ONNX `LayerNormalization` (opset 17). */
export function onnxLayerNorm(
  b: OnnxBuilder,
  x: Tensor,
  weight: Tensor | undefined,
  bias: Tensor | undefined,
  eps: number,
): Tensor {
  const dim = x.shape[x.rank - 1] as number;
  const scale = weight ?? tensor(new Float32Array(dim).fill(1), [dim], 'float32', x.backend);
  return op1(
    b,
    'LayerNormalization',
    [x, scale, bias],
    { shape: x.shape, dtype: 'float32' },
    { axis: onnxAttr.int(-1), epsilon: onnxAttr.float(eps) },
  );
}

// Tables are made once per export (and kept out of the per-node tidy scopes).
const tables = new WeakMap<OnnxBuilder, Map<string, Tensor>>();

function table(b: OnnxBuilder, key: string, make: () => Tensor): Tensor {
  let m = tables.get(b);
  if (!m) tables.set(b, (m = new Map()));
  let t = m.get(key);
  if (!t) m.set(key, (t = keep(make())));
  return t;
}

/**
 * RoPE of x [batch, time, headDim] or [batch, heads, time, headDim] at `positions` [B|1, time]:
 * the same maths as `rotary`, with cos/sin rows gathered by position.
 */
export function onnxRotary(b: OnnxBuilder, x: Tensor, positions: Tensor, base: number): Tensor {
  const headDim = x.shape[x.rank - 1] as number;
  const pick = (which: 'cos' | 'sin') => {
    const rows = b.positionRows(
      `rope.${which}.${headDim}.${base}`,
      headDim,
      positions,
      (start, count) => rotaryValues(start, count, headDim, base)[which],
    );
    return x.rank === 4 ? reshape(rows, [rows.shape[0], 1, rows.shape[1], headDim]) : rows;
  };
  const rotateHalf = table(b, `rope:R:${headDim}`, () => rotateHalfMatrix(headDim, x));
  return add(mul(x, pick('cos')), mul(rowsTimes(x, rotateHalf), pick('sin')));
}

/**
 * The additive attention mask [B|1, 1, time, keys] (0 = attend, MASKED = not) for queries at
 * `positions` [B|1, time] over `keys` [batch, heads, keys, headDim], whose first `past` entries
 * (the cache, its length read off `past` at run time) end just before the first query: key j sits
 * at position positions[:, 0] - past + j. Causal: keep j's position <= the query's; window: keep
 * query - key < window; padding [batch, keys]: keep where > 0.5. Undefined when nothing masks.
 */
export function onnxAttentionBias(
  b: OnnxBuilder,
  positions: Tensor,
  keys: Tensor,
  past: Tensor | undefined,
  o: { causal: boolean; window?: number; padding?: Tensor },
): Tensor | undefined {
  if (!o.causal && o.window === undefined && !o.padding) return undefined;
  const rows = positions.shape[0];
  const total = keys.shape[2];
  let keep: Tensor | undefined;
  const and = (c: Tensor) => (keep = keep ? b.elementwise('And', [keep, c]) : c);
  if (o.causal || o.window !== undefined) {
    const zero = tensor([0], [], 'int32', keys.backend);
    const one = tensor([1], [], 'int32', keys.backend);
    // Range's length is the run-time key count: the output names it after the keys' dim.
    const keyIndex = op1(b, 'Range', [zero, b.dim(keys, 2), one], { shape: [total], dtype: 'int32' });
    const first = op1(b, 'Slice', [positions, b.int64([0]), b.int64([1]), b.int64([1])], {
      shape: [rows, 1],
      dtype: 'int32',
    });
    const start = past ? b.elementwise('Sub', [first, b.dim(past, 2)]) : first;
    const keyPos = b.elementwise('Add', [start, keyIndex]);
    const distance = b.elementwise('Sub', [b.unsqueeze(positions, [1, 3]), b.unsqueeze(keyPos, [1, 2])]);
    if (o.causal) and(b.elementwise('GreaterOrEqual', [distance, zero]));
    if (o.window !== undefined) and(b.elementwise('Less', [distance, tensor([o.window], [], 'int32', keys.backend)]));
  }
  if (o.padding)
    and(b.elementwise('Greater', [b.unsqueeze(o.padding, [1, 2]), tensor([0.5], [], 'float32', keys.backend)]));
  return b.elementwise('Where', [
    keep!,
    tensor([0], [], 'float32', keys.backend),
    tensor([MASKED], [], 'float32', keys.backend),
  ]);
}

/** Join along axis 2 (cache + this wave), the joined length left free as `total`. */
export function onnxConcatTime(b: OnnxBuilder, a: Tensor, c: Tensor, total: string): Tensor {
  return op1(
    b,
    'Concat',
    [a, c],
    { shape: [a.shape[0], a.shape[1], total, a.shape[3]], dtype: a.dtype },
    { axis: onnxAttr.int(2) },
  );
}

/** The last `n` entries along axis 2 (all of them when fewer), the length left free as `name`. */
export function onnxLastAlongTime(b: OnnxBuilder, t: Tensor, n: number, name: string): Tensor {
  const big = 2 ** 31 - 1;
  return op1(b, 'Slice', [t, b.int64([-n]), b.int64([big]), b.int64([2])], {
    shape: [t.shape[0], t.shape[1], name, t.shape[3]],
    dtype: t.dtype,
  });
}
