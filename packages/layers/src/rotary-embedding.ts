// Rotary position embedding (RoPE; Su et al. 2021), in the "rotate half" layout of GPT-NeoX and
// Hugging Face's LLaMA: feature i of a head is paired with feature i + headDim/2, and the pair at
// absolute position p is rotated by the angle p · base^(-2i/headDim):
//   rope(x)_p = x_p · cos_p + rotateHalf(x_p) · sin_p,   rotateHalf([x1, x2]) = [-x2, x1]
// A query at position p and a key at position s then score as a function of p - s only, which is
// why attention caches stay correct in streaming: keys are rotated once, at their absolute position.
// MultiHeadAttention applies it to queries and keys with `rope: true`; the RotaryEmbedding layer
// applies it to any [batch, time, heads * headDim] input. No parameters.
import {
  AttributeError,
  Layer,
  type LayerContext,
  type OnnxBuilder,
  type LayerSignature,
  ShapeError,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
  mul,
  reshape,
  tensor,
  transpose,
} from '@ganglion/core';
import { onnxRotary } from './attention-onnx.js';
import { rowsTimes } from './linear.js';

/** cos and sin values [time, headDim], in float64, for positions start .. start + time - 1. */
export function rotaryValues(
  start: number,
  time: number,
  headDim: number,
  base: number,
): { cos: Float64Array; sin: Float64Array } {
  const half = headDim / 2;
  const cos = new Float64Array(time * headDim);
  const sin = new Float64Array(time * headDim);
  for (let t = 0; t < time; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (start + t) * base ** ((-2 * i) / headDim);
      cos[t * headDim + i] = cos[t * headDim + i + half] = Math.cos(angle);
      sin[t * headDim + i] = sin[t * headDim + i + half] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** cos and sin tables [time, headDim] for positions start .. start + time - 1. */
function rotaryTables(
  start: number,
  time: number,
  headDim: number,
  base: number,
  like: Tensor,
): { cos: Tensor; sin: Tensor } {
  const { cos, sin } = rotaryValues(start, time, headDim, base);
  return {
    cos: tensor(cos, [time, headDim], 'float32', like.backend),
    sin: tensor(sin, [time, headDim], 'float32', like.backend),
  };
}

/** rotateHalf as a constant [headDim, headDim] matrix: x @ R = [-x2, x1] (one MatMul, no slices). */
export function rotateHalfMatrix(headDim: number, like: Tensor): Tensor {
  const half = headDim / 2;
  const r = new Float64Array(headDim * headDim);
  for (let j = 0; j < half; j++) {
    r[(j + half) * headDim + j] = -1;
    r[j * headDim + j + half] = 1;
  }
  return tensor(r, [headDim, headDim], 'float32', like.backend);
}

/**
 * Rotate x [..., time, headDim] for absolute positions start, start + 1, ….
 *
 *   const q = rotary(splitHeads(q0, heads), ctx.context.position)   // [batch, heads, time, headDim]
 */
export function rotary(x: Tensor, start: number, base = 10000): Tensor {
  const time = x.shape[x.rank - 2];
  const headDim = x.shape[x.rank - 1];
  if (typeof time !== 'number' || typeof headDim !== 'number')
    throw new ShapeError(`rotary: the time and feature dims must be concrete, got ${x.shape.join(', ')}`);
  if (headDim % 2 !== 0) throw new ShapeError(`rotary: the head dim must be even to pair features, got ${headDim}`);
  const { cos, sin } = rotaryTables(start, time, headDim, base, x);
  return add(mul(x, cos), mul(rowsTimes(x, rotateHalfMatrix(headDim, x)), sin));
}

export interface RotaryEmbeddingConfig {
  /** Split the features into this many heads of dim/heads features, each rotated alike. Default 1. */
  readonly heads?: number;
  /** Default 10000. */
  readonly base?: number;
}

export class RotaryEmbedding extends Layer<RotaryEmbeddingConfig> {
  static override readonly kind = 'RotaryEmbedding';
  readonly inputs = [{ name: 'x' }];

  constructor(config: RotaryEmbeddingConfig = {}) {
    super(config);
    const heads = config.heads ?? 1;
    if (!Number.isInteger(heads) || heads < 1)
      throw new AttributeError(`RotaryEmbedding: heads must be a positive integer, got ${heads}`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    const dim = lastDim('x', x);
    const heads = this.config.heads ?? 1;
    if (dim % (2 * heads) !== 0)
      throw new ShapeError(`input "x" has ${dim} features, which do not split into ${heads} heads of an even size`);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }], params: [] };
  }

  /** Positions start at the wave's stream position (ctx.context.position). */
  forward({ x }: Readonly<Record<string, Tensor>>, _p: unknown, ctx: LayerContext): Tensor {
    const heads = this.config.heads ?? 1;
    const base = this.config.base ?? 10000;
    if (heads === 1) return rotary(x, ctx.context.position, base);
    const [batch, time, dim] = x.shape as number[];
    const split = transpose(reshape(x, [batch, time, heads, dim / heads]), [0, 2, 1, 3]);
    return reshape(transpose(rotary(split, ctx.context.position, base), [0, 2, 1, 3]), [batch, time, dim]);
  }

  /** Native export: cos/sin rows gathered at the wave's positions (b.positions). */
  lowerOnnx(b: OnnxBuilder, { x }: Readonly<Record<string, Tensor>>): Tensor {
    const heads = this.config.heads ?? 1;
    const base = this.config.base ?? 10000;
    const positions = b.positions(x);
    if (heads === 1) return onnxRotary(b, x, positions, base);
    const [batch, time, dim] = x.shape as number[];
    const split = transpose(reshape(x, [batch, time, heads, dim / heads]), [0, 2, 1, 3]);
    return reshape(transpose(onnxRotary(b, split, positions, base), [0, 2, 1, 3]), [batch, time, dim]);
  }
}
