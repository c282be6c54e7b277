// MultiHeadAttention, batch-first, torch.nn.MultiheadAttention's maths and parameter layout:
//   q, k, v = x Wqᵀ + bq, kv Wkᵀ + bk, kv Wvᵀ + bv      (kv = x for self-attention)
//   y = concat_h(softmax(q_h k_hᵀ / √headDim + mask) v_h) Woᵀ + bo
// Parameters (torch's names, with out_proj.weight/bias spelled out_proj_weight/out_proj_bias):
//   in_proj_weight [3·dim, dim] (rows: Wq, Wk, Wv), in_proj_bias [3·dim],
//   out_proj_weight [dim, dim], out_proj_bias [dim]; no biases when `bias` is false.
// Initialized as PyTorch: Xavier-uniform in_proj_weight, U(±1/√dim) out_proj_weight, zero biases.
// Ports: x [batch, time, dim] (queries); optional kv [batch, time_k, dim] (cross-attention);
// optional mask [batch, time_k] float, 1 = keep, 0 = padding (PyTorch's key_padding_mask negated).
// Output y [batch, time, dim].
//
// Options: `causal` (query i sees keys <= i), `window` (sliding-window attention: query i sees keys
// > i - window, in full runs as in streaming, in every layer — so with several layers information
// still flows from further back, as in Mistral), `rope` (rotary embedding of queries and keys at
// their absolute stream positions), `dropout` (on the attention weights, in training). Masked
// scores get -1e9 added (see attention.ts). causal, window and rope are for self-attention: with
// `kv` wired (cross-attention) they are a build error, and there is no cache.
//
// Streaming (self-attention only): the node returns state { key, value, end } — this wave's keys and
// values [batch, heads, t, headDim] appended to the cached ones, and the stream position they end
// at — and on the next wave attends over cache + new keys, the causal mask offset by the cache
// length. A wave must start where the cache ends (its `position`), else a clear error. With a
// padding mask, the cached keys' flags travel as state.mask [batch, t]. With `window`, only the
// last `window` entries are kept (older ones could never be seen again). Keys are cached after
// RoPE, at their absolute positions, so cached generation equals re-running the prefix.
import {
  AttributeError,
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type ParamSpec,
  ExportError,
  type OnnxBuilder,
  ShapeError,
  type Tensor,
  type TensorSpec,
  concat,
  expectPort,
  ones,
  scalar,
  sizeOf,
  slice,
} from '@ganglion/core';
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from './attention.js';
import { onnxAttentionBias, onnxConcatTime, onnxLastAlongTime, onnxRotary } from './attention-onnx.js';
import { linear, linearInit } from './linear.js';
import { rotary } from './rotary-embedding.js';

export interface MultiHeadAttentionConfig {
  readonly dim: number;
  readonly heads: number;
  /** Query i attends to keys 0..i only. Default false. */
  readonly causal?: boolean;
  /** Biases on the input and output projections. Default true. */
  readonly bias?: boolean;
  /** Dropout rate on the attention weights in training. Default 0. */
  readonly dropout?: number;
  /** Rotary position embedding of queries and keys (self-attention). Default false. */
  readonly rope?: boolean;
  /** RoPE's base. Default 10000. */
  readonly ropeBase?: number;
  /** Sliding window: query i attends to keys i - window + 1 .. i; also bounds the KV cache. */
  readonly window?: number;
}

/** The attention options MultiHeadAttention and TransformerBlock share. */
export type AttentionOptions = Omit<MultiHeadAttentionConfig, 'dim'>;

/**
 * Cached keys and values [batch, heads, t, headDim], the stream position where they end (an int32
 * scalar, to catch a wave fed at the wrong position), and the padding flags [batch, t] if any.
 */
export interface KVCache {
  readonly key: Tensor;
  readonly value: Tensor;
  readonly end: Tensor;
  readonly mask?: Tensor;
}

/** MultiHeadAttention's parameters (shared with TransformerBlock). */
export function attentionParams(dim: number, bias = true): ParamSpec[] {
  return [
    { name: 'in_proj_weight', shape: [3 * dim, dim], init: { kind: 'glorot-uniform' } },
    ...(bias ? [{ name: 'in_proj_bias', shape: [3 * dim], init: { kind: 'zeros' } } as const] : []),
    { name: 'out_proj_weight', shape: [dim, dim], init: linearInit(dim) },
    ...(bias ? [{ name: 'out_proj_bias', shape: [dim], init: { kind: 'zeros' } } as const] : []),
  ];
}

/** Config checks shared by MultiHeadAttention and TransformerBlock. */
export function checkAttentionOptions(who: string, o: AttentionOptions): void {
  if (!Number.isInteger(o.heads) || o.heads < 1)
    throw new AttributeError(`${who}: heads must be a positive integer, got ${o.heads}`);
  if (o.dropout !== undefined && !(o.dropout >= 0 && o.dropout < 1))
    throw new AttributeError(`${who}: dropout must be in [0, 1), got ${o.dropout}`);
  if (o.window !== undefined && !(Number.isInteger(o.window) && o.window >= 1))
    throw new AttributeError(`${who}: window must be a positive integer, got ${o.window}`);
}

/** Shape checks shared by MultiHeadAttention and TransformerBlock: `dim` splits into heads. */
export function checkHeads(dim: number, o: AttentionOptions): void {
  if (dim % o.heads !== 0)
    throw new ShapeError(`input "x" has ${dim} features, which do not split into ${o.heads} heads`);
  if (o.rope && (dim / o.heads) % 2 !== 0)
    throw new ShapeError(
      `input "x": rope needs an even head size, got ${dim} features / ${o.heads} heads = ${dim / o.heads}`,
    );
}

/**
 * x Wᵢᵀ + bᵢ for `count` consecutive row blocks Wᵢ of in_proj_weight, starting at block `first`
 * (0: Wq, 1: Wk, 2: Wv). NOTE: slices whichever is smaller — the weights, or (with fewer rows than
 * features, as when generating one token per wave) the output of one product with all the blocks.
 */
function projections(
  x: Tensor,
  p: Readonly<Record<string, Tensor>>,
  first: number,
  count: number,
  dim: number,
): Tensor[] {
  const rows = sizeOf(x.shape.slice(0, -1));
  const blocks = (t: Tensor, from: number, n: number, axis: number) =>
    from === 0 && n * dim === t.shape[axis] ? t : slice(t, [from * dim], [(from + n) * dim], [axis]);
  const bias = (from: number, n: number) => p.in_proj_bias && blocks(p.in_proj_bias, from, n, 0);
  if (typeof rows === 'number' && rows < dim) {
    const y = linear(x, blocks(p.in_proj_weight, first, count, 0), bias(first, count));
    return Array.from({ length: count }, (_, i) => blocks(y, i, 1, y.rank - 1));
  }
  return Array.from({ length: count }, (_, i) =>
    linear(x, blocks(p.in_proj_weight, first + i, 1, 0), bias(first + i, 1)),
  );
}

/**
 * Multi-head attention of x over kv (default x) with parameters in PyTorch's layout. Returns the
 * output and, for self-attention, the KV cache to carry to the next streaming wave.
 *
 *   const { y, cache } = multiHeadAttention(x, p, { heads: 4, causal: true }, ctx, { cache: ctx.state })
 */
export function multiHeadAttention(
  x: Tensor,
  p: Readonly<Record<string, Tensor>>,
  o: AttentionOptions,
  ctx: LayerContext,
  extra: { kv?: Tensor; mask?: Tensor; cache?: Readonly<Record<string, Tensor>> } = {},
): { y: Tensor; cache?: KVCache } {
  const [batch, time, dim] = x.shape as number[];
  const start = ctx.context.position;
  const [q0, k0, v0] = extra.kv
    ? [...projections(x, p, 0, 1, dim), ...projections(extra.kv, p, 1, 2, dim)]
    : projections(x, p, 0, 3, dim);
  let q = splitHeads(q0, o.heads);
  let k = splitHeads(k0, o.heads);
  let v = splitHeads(v0, o.heads);
  if (o.rope) {
    q = rotary(q, start, o.ropeBase);
    k = rotary(k, start, o.ropeBase);
  }
  const selfAttention = !extra.kv;
  const cache = selfAttention ? extra.cache : undefined;
  let padding = extra.mask;
  if (cache?.key) {
    if (cache.key.shape[0] !== batch)
      throw new ShapeError(
        `cached keys have batch ${cache.key.shape[0]}, but input "x" has batch ${batch}; call resetState() when the batch size changes`,
      );
    const end = cache.end?.dataSync()[0];
    if (end !== undefined && end !== start) {
      throw new ShapeError(
        `this wave starts at stream position ${start}, but the cached keys end at position ${end}: pass forward(..., { stream: true, position: ${end} }) to continue the stream, or call resetState() to start a new one`,
      );
    }
    const past = cache.key.shape[2] as number;
    if (padding || cache.mask)
      padding = concat(
        [cache.mask ?? ones([batch, past], 'float32', x.backend), padding ?? ones([batch, time], 'float32', x.backend)],
        1,
      );
    k = concat([cache.key, k], 2);
    v = concat([cache.value, v], 2);
  }
  const keys = k.shape[2] as number;
  const bias = attentionBias(time, keys, { causal: o.causal === true, window: o.window, padding, like: x });
  const attended = scaledDotProductAttention(q, k, v, bias, { dropout: o.dropout, ctx });
  const y = linear(mergeHeads(attended), p.out_proj_weight, p.out_proj_bias);
  if (!selfAttention) return { y };
  // Keep what a later query can still see: everything, or the last `window` entries.
  const drop = o.window !== undefined && keys > o.window ? keys - o.window : 0;
  const recent = (t: Tensor) => (drop > 0 ? slice(t, [drop], [keys], [t.rank === 4 ? 2 : 1]) : t);
  const end = scalar(start + time, 'int32', x.backend);
  return { y, cache: { key: recent(k), value: recent(v), end, ...(padding ? { mask: recent(padding) } : {}) } };
}

/**
 * Self-attention as an exported graph computes it (the native ONNX lowering of MultiHeadAttention
 * and TransformerBlock): `multiHeadAttention`'s maths, with positions, RoPE and masks built in the
 * graph (attention-onnx.ts), so the time dim and the cache length stay free. The cache is
 * { key, value } (after RoPE, as in `forward`); with `window` only its last `window` entries are
 * returned, as `forward` keeps them. A padding mask cannot be carried in a stateful export.
 */
export function multiHeadAttentionOnnx(
  b: OnnxBuilder,
  x: Tensor,
  p: Readonly<Record<string, Tensor>>,
  o: AttentionOptions,
  extra: { mask?: Tensor; cache?: Readonly<Record<string, Tensor>> } = {},
): { y: Tensor; cache: { key: Tensor; value: Tensor } } {
  if (extra.mask && b.stateful)
    throw new ExportError(
      "a padding mask cannot be exported statefully (the cached keys' flags are not carried); export without stateful, or without the mask",
    );
  const dim = x.shape[2] as number;
  const [q0, k0, v0] = projections(x, p, 0, 3, dim);
  let q = splitHeads(q0, o.heads);
  let k = splitHeads(k0, o.heads);
  let v = splitHeads(v0, o.heads);
  const positions = b.positions(x);
  if (o.rope) {
    q = onnxRotary(b, q, positions, o.ropeBase ?? 10000);
    k = onnxRotary(b, k, positions, o.ropeBase ?? 10000);
  }
  const past = extra.cache?.key;
  if (past && extra.cache?.value) {
    k = onnxConcatTime(b, past, k, 'total_sequence_length');
    v = onnxConcatTime(b, extra.cache.value, v, 'total_sequence_length');
  }
  const bias = onnxAttentionBias(b, positions, k, past, {
    causal: o.causal === true,
    window: o.window,
    padding: extra.mask,
  });
  const y = linear(mergeHeads(scaledDotProductAttention(q, k, v, bias)), p.out_proj_weight, p.out_proj_bias);
  const recent = (t: Tensor) =>
    o.window !== undefined ? onnxLastAlongTime(b, t, o.window, 'present_sequence_length') : t;
  return { y, cache: { key: recent(k), value: recent(v) } };
}

export class MultiHeadAttention extends Layer<MultiHeadAttentionConfig> {
  static override readonly kind = 'MultiHeadAttention';
  readonly inputs = [{ name: 'x' }, { name: 'kv', optional: true }, { name: 'mask', optional: true }];
  /** Its streaming state exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  constructor(config: MultiHeadAttentionConfig) {
    super(config);
    checkAttentionOptions('MultiHeadAttention', config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const { dim } = this.config;
    const x = expectPort('x', inputs.x, 'float32', [null, null, dim]);
    checkHeads(dim, this.config);
    let keyTime = x.shape[1];
    if (inputs.kv) {
      const kv = expectPort('kv', inputs.kv, 'float32', [x.shape[0], null, dim]);
      keyTime = kv.shape[1];
      const selfOnly = (['causal', 'rope', 'window'] as const).filter((k) => this.config[k]);
      if (selfOnly.length)
        throw new ShapeError(
          `input "kv" is wired (cross-attention), but ${selfOnly.join(', ')} only apply to self-attention`,
        );
    }
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [x.shape[0], keyTime]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: attentionParams(dim, this.config.bias !== false),
    };
  }

  forward(
    inputs: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const { y, cache } = multiHeadAttention(inputs.x, params, this.config, ctx, {
      kv: inputs.kv,
      mask: inputs.mask,
      cache: ctx.state,
    });
    return cache ? { outputs: { y }, state: { ...cache } } : y;
  }

  /** Native export: self-attention with in-graph positions and masks; cross-attention traces `forward`. */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    if (inputs.kv) return this.forward(inputs, params, ctx);
    const { y, cache } = multiHeadAttentionOnnx(b, inputs.x, params, this.config, {
      mask: inputs.mask,
      cache: ctx.state,
    });
    return { outputs: { y }, state: cache };
  }
}
