// MultiHeadAttention, batch-first, torch.nn.MultiheadAttention's maths and parameter layout:
//   q, k, v = x Wqᵀ + bq, kv Wkᵀ + bk, kv Wvᵀ + bv      (kv = x for self-attention)
//   y = concat_h(softmax(q_h k_hᵀ / √headDim + mask) v_h) Woᵀ + bo
// Parameters (torch's names, with out_proj.weight/bias spelled out_proj_weight/out_proj_bias):
//   in_proj_weight [3·dim, dim] (rows: Wq, Wk, Wv), in_proj_bias [3·dim],
//   out_proj_weight [dim, dim], out_proj_bias [dim]; no biases when `bias` is false.
// Initialized as PyTorch: Xavier-uniform in_proj_weight, U(±1/√dim) out_proj_weight, zero biases.
// Grouped-query attention (`kvHeads` < heads, as Llama's num_key_value_heads): keys and values get
// kvHeads heads of the same headDim = dim / heads, so in_proj_weight is
// [(heads + 2·kvHeads)·headDim, dim] (rows q, then k, then v; in_proj_bias likewise), and key/value
// head j serves query heads j·g .. j·g + g - 1 (g = heads / kvHeads), as Hugging Face's `repeat_kv`.
// The KV cache holds the kvHeads heads, never repeated (see scaledDotProductAttention).
// `lora` adds a LoRA adapter (lora.ts) to each target projection: lora_<t>_A [rank, dim] and
// lora_<t>_B [out, rank] for t in q, k, v (out = the block's rows) and o (out = dim).
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
// values [batch, kvHeads, t, headDim] appended to the cached ones, and the stream position they end
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
  add,
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
import { type AttentionLora, type LoraTarget, checkLora, loraDelta, loraParams } from './lora.js';
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
  /** Key/value heads (grouped-query attention); must divide `heads`. Default `heads`. */
  readonly kvHeads?: number;
  /** LoRA adapters on the q/k/v/o projections (lora.ts). Default none. */
  readonly lora?: AttentionLora;
}

/** The attention options MultiHeadAttention and TransformerBlock share. */
export type AttentionOptions = Omit<MultiHeadAttentionConfig, 'dim'>;

/**
 * Cached keys and values [batch, kvHeads, t, headDim], the stream position where they end (an int32
 * scalar, to catch a wave fed at the wrong position), and the padding flags [batch, t] if any.
 */
export interface KVCache {
  readonly key: Tensor;
  readonly value: Tensor;
  readonly end: Tensor;
  readonly mask?: Tensor;
}

/** Sizes of the projections: q has `dim` rows, k and v `kvDim` = kvHeads · headDim each. */
function projectionSizes(dim: number, o: AttentionOptions): { headDim: number; kvHeads: number; kvDim: number } {
  const headDim = dim / o.heads;
  const kvHeads = o.kvHeads ?? o.heads;
  return { headDim, kvHeads, kvDim: kvHeads * headDim };
}

/** MultiHeadAttention's parameters for model width `dim` (shared with TransformerBlock). */
export function attentionParams(dim: number, o: AttentionOptions): ParamSpec[] {
  const { kvDim } = projectionSizes(dim, o);
  const rows = dim + 2 * kvDim;
  const bias = o.bias !== false;
  const out: Record<LoraTarget, number> = { q: dim, k: kvDim, v: kvDim, o: dim };
  return [
    { name: 'in_proj_weight', shape: [rows, dim], init: { kind: 'glorot-uniform' } },
    ...(bias ? [{ name: 'in_proj_bias', shape: [rows], init: { kind: 'zeros' } } as const] : []),
    { name: 'out_proj_weight', shape: [dim, dim], init: linearInit(dim) },
    ...(bias ? [{ name: 'out_proj_bias', shape: [dim], init: { kind: 'zeros' } } as const] : []),
    ...(o.lora?.targets ?? []).flatMap((t) => loraParams(`lora_${t}`, dim, out[t], o.lora!)),
  ];
}

/** Config checks shared by MultiHeadAttention and TransformerBlock. */
export function checkAttentionOptions(who: string, o: AttentionOptions): void {
  if (!Number.isInteger(o.heads) || o.heads < 1)
    throw new AttributeError(`${who}: heads must be a positive integer, got ${o.heads}`);
  if (o.kvHeads !== undefined && !(Number.isInteger(o.kvHeads) && o.kvHeads >= 1 && o.heads % o.kvHeads === 0))
    throw new AttributeError(
      `${who}: kvHeads must be a positive integer that divides heads (${o.heads}), got ${o.kvHeads}`,
    );
  if (o.dropout !== undefined && !(o.dropout >= 0 && o.dropout < 1))
    throw new AttributeError(`${who}: dropout must be in [0, 1), got ${o.dropout}`);
  if (o.window !== undefined && !(Number.isInteger(o.window) && o.window >= 1))
    throw new AttributeError(`${who}: window must be a positive integer, got ${o.window}`);
  if (o.lora) {
    checkLora(who, o.lora);
    if (o.lora.targets === undefined)
      throw new AttributeError(`${who}: lora.targets must list the projections to adapt (q, k, v, o)`);
  }
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

type Projection = 'q' | 'k' | 'v';

/**
 * The q, k or v projections of x (x Wᵀ + b with Wq, Wk or Wv, the row blocks of in_proj_weight,
 * plus their LoRA updates), for consecutive blocks `which`. NOTE: slices whichever is smaller —
 * the weights, or (with fewer rows than features, as when generating one token per wave) the
 * output of one product with all the blocks.
 */
function projections(
  x: Tensor,
  p: Readonly<Record<string, Tensor>>,
  o: AttentionOptions,
  which: readonly Projection[],
  ctx?: LayerContext,
): Tensor[] {
  const dim = p.in_proj_weight.shape[1] as number;
  const { kvDim } = projectionSizes(dim, o);
  const start = { q: 0, k: dim, v: dim + kvDim };
  const range = (t: Projection): [number, number] => [start[t], start[t] + (t === 'q' ? dim : kvDim)];
  const part = (t: Tensor, [from, to]: [number, number], axis: number) =>
    from === 0 && to === t.shape[axis] ? t : slice(t, [from], [to], [axis]);
  const bias = (r: [number, number]) => p.in_proj_bias && part(p.in_proj_bias, r, 0);
  const rows = sizeOf(x.shape.slice(0, -1));
  let ys: Tensor[];
  if (typeof rows === 'number' && rows < dim && which.length > 1) {
    const all: [number, number] = [range(which[0])[0], range(which[which.length - 1])[1]];
    const y = linear(x, part(p.in_proj_weight, all, 0), bias(all));
    ys = which.map((t) => part(y, [range(t)[0] - all[0], range(t)[1] - all[0]], y.rank - 1));
  } else {
    ys = which.map((t) => linear(x, part(p.in_proj_weight, range(t), 0), bias(range(t))));
  }
  const { lora } = o;
  return ys.map((y, i) =>
    lora?.targets.includes(which[i])
      ? add(y, loraDelta(x, p[`lora_${which[i]}_A`], p[`lora_${which[i]}_B`], lora, ctx))
      : y,
  );
}

/** The output projection of the merged heads (with its LoRA update when `o` is a target). */
function outProjection(
  h: Tensor,
  p: Readonly<Record<string, Tensor>>,
  o: AttentionOptions,
  ctx?: LayerContext,
): Tensor {
  const y = linear(h, p.out_proj_weight, p.out_proj_bias);
  return o.lora?.targets.includes('o') ? add(y, loraDelta(h, p.lora_o_A, p.lora_o_B, o.lora, ctx)) : y;
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
    ? [...projections(x, p, o, ['q'], ctx), ...projections(extra.kv, p, o, ['k', 'v'], ctx)]
    : projections(x, p, o, ['q', 'k', 'v'], ctx);
  const { kvHeads } = projectionSizes(dim, o);
  let q = splitHeads(q0, o.heads);
  let k = splitHeads(k0, kvHeads);
  let v = splitHeads(v0, kvHeads);
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
  const y = outProjection(mergeHeads(attended), p, o, ctx);
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
  const [q0, k0, v0] = projections(x, p, o, ['q', 'k', 'v']);
  const { kvHeads } = projectionSizes(x.shape[2] as number, o);
  let q = splitHeads(q0, o.heads);
  let k = splitHeads(k0, kvHeads);
  let v = splitHeads(v0, kvHeads);
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
  const y = outProjection(mergeHeads(scaledDotProductAttention(q, k, v, bias)), p, o);
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
      params: attentionParams(dim, this.config),
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
