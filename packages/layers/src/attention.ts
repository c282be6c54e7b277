// Scaled dot-product attention and the head/mask plumbing MultiHeadAttention and TransformerBlock
// share. Tensors with heads are [batch, heads, time, headDim].
//
// Grouped-query attention: keys and values may have fewer heads than queries (kvHeads dividing
// heads); key/value head j serves query heads j·g .. j·g + g - 1 (g = heads / kvHeads), as Hugging
// Face's `repeat_kv`. NOTE: the keys and values are not repeated: the queries are regrouped
// [g, batch, kvHeads, time, headDim], against which the keys' [batch, kvHeads, ...] broadcast in
// MatMul (numpy rules), and so does the [batch|1, 1, time, keys] mask. No copy of the (cached) keys,
// and no reshape of them, whose time dim an export leaves free.
//
// Masking: a query may see a key when every mask says "keep"; the scores of the others get
// MASKED = -1e9 added before the softmax, so their weights underflow to exactly zero (and so do
// their gradients), in float32 and float64 alike. NOTE: an additive bias, not Where: on tfjs-wasm a
// broadcast Where tiles its condition and fill value to the scores' full shape (~10x the time of
// the broadcast Add), and its VJP costs two more full-size selects.
// A query row that can see no key at all — only possible with a padding mask that drops every key
// of a sequence; causal and window masks always leave the query's own position — gets no NaN
// (PyTorch gives NaN there) but a meaningless output: its scores are all swamped by -1e9 (in float64
// that is the unmasked attention; in float32 the rounding of -1e9 + score decides). Exclude such
// positions from the loss. Padded queries are not masked (their outputs are to be ignored by the
// loss's own mask), as in PyTorch.
import {
  ShapeError,
  type LayerContext,
  type Tensor,
  add,
  cast,
  greater,
  matMul,
  mul,
  reshape,
  softmax,
  sub,
  tensor,
  transpose,
} from '@ganglion/core';
import { Dropout } from './dropout.js';

/** The score given to a masked (query, key) pair. */
export const MASKED = -1e9;

/** [batch, time, heads * headDim] -> [batch, heads, time, headDim]. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [batch, time, dim] = x.shape as number[];
  return transpose(reshape(x, [batch, time, heads, dim / heads]), [0, 2, 1, 3]);
}

/** [batch, heads, time, headDim] -> [batch, time, heads * headDim]. */
export function mergeHeads(x: Tensor): Tensor {
  const [batch, heads, time, headDim] = x.shape as number[];
  return reshape(transpose(x, [0, 2, 1, 3]), [batch, time, heads * headDim]);
}

/**
 * Which keys each query may see, from causality and a sliding window, as 0/1 values
 * [queries, keys]. Queries are the last `queries` of the `keys` positions (the first
 * `keys - queries` keys come from a cache): query i sits at key index past + i and sees key j
 * when j <= past + i (causal) and past + i - j < window. Returns undefined when all is visible.
 */
export function visibility(queries: number, keys: number, causal: boolean, window?: number): Float32Array | undefined {
  const past = keys - queries;
  if (!causal && (window === undefined || window >= keys)) return undefined;
  const keep = new Float32Array(queries * keys);
  let masked = false;
  for (let i = 0; i < queries; i++) {
    for (let j = 0; j < keys; j++) {
      const q = past + i;
      const ok = (!causal || j <= q) && (window === undefined || q - j < window);
      keep[i * keys + j] = ok ? 1 : 0;
      masked ||= !ok;
    }
  }
  return masked ? keep : undefined;
}

/**
 * The additive mask for scores [batch, heads, queries, keys], broadcastable: 0 where a query may
 * attend, MASKED where not, from the causal/window visibility [queries, keys] and a padding mask
 * [batch, keys] (> 0.5 = keep, else pad). Undefined when nothing is masked.
 */
export function attentionBias(
  queries: number,
  keys: number,
  opts: { causal: boolean; window?: number; padding?: Tensor; like: Tensor },
): Tensor | undefined {
  if ((opts.causal || opts.window !== undefined) && (typeof queries !== 'number' || typeof keys !== 'number')) {
    // A symbolic time (ONNX export with a free `time`) would otherwise build no mask at all.
    throw new ShapeError(
      `causal or windowed attention needs a concrete time dim to build its mask, got ${String(queries)} queries and ${String(keys)} keys`,
    );
  }
  const vis = visibility(queries, keys, opts.causal, opts.window);
  const bias =
    vis &&
    tensor(
      vis.map((v) => (v ? 0 : MASKED)),
      [queries, keys],
      'float32',
      opts.like.backend,
    );
  if (!opts.padding) return bias;
  // Through a comparison, so the mask stays off the tape: no (1e9-sized) gradient to the mask port.
  const keep = cast(greater(reshape(opts.padding, [opts.padding.shape[0], 1, 1, keys]), 0.5), 'float32');
  // (1 - keep) · MASKED: 0 or MASKED (never their sum, which float32 would round).
  const pad = mul(sub(1, keep), MASKED);
  if (!bias) return pad;
  const visT = tensor(vis!, [queries, keys], 'float32', opts.like.backend);
  return add(mul(pad, visT), bias);
}

/**
 * softmax(q kᵀ / √headDim, masked) v for queries [batch, heads, time, headDim] over keys and values
 * [batch, kvHeads, keys, headDim] (kvHeads dividing heads; see the header), with dropout on the
 * attention weights in training (as torch.nn.MultiheadAttention's `dropout`). `bias` broadcasts
 * to [batch, 1, time, keys].
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  bias: Tensor | undefined,
  opts: { dropout?: number; ctx?: LayerContext } = {},
): Tensor {
  const [batch, heads, time, headDim] = q.shape;
  const kvHeads = k.shape[1];
  const groups = typeof heads === 'number' && typeof kvHeads === 'number' ? heads / kvHeads : NaN;
  if (!Number.isInteger(groups))
    throw new ShapeError(
      `attention: ${String(heads)} query heads do not split into ${String(kvHeads)} key/value heads`,
    );
  const grouped = groups === 1 ? q : transpose(reshape(q, [batch, kvHeads, groups, time, headDim]), [2, 0, 1, 3, 4]);
  const keysT = transpose(k, [0, 1, 3, 2]);
  const scores = matMul(mul(grouped, 1 / Math.sqrt(headDim as number)), keysT);
  let weights = softmax(bias ? add(scores, bias) : scores, -1);
  if (opts.dropout && opts.ctx) weights = dropout(weights, opts.dropout, opts.ctx);
  const out = matMul(weights, v);
  return groups === 1 ? out : reshape(transpose(out, [1, 2, 0, 3, 4]), [batch, heads, time, headDim]);
}

/** Inverted dropout with Dropout's own forward (identity outside training). */
export function dropout(x: Tensor, rate: number, ctx: LayerContext): Tensor {
  if (!rate || !ctx.training) return x;
  return new Dropout({ rate }).forward({ x }, {}, ctx);
}
