// SinusoidalPositionEmbedding: the fixed positions of "Attention Is All You Need",
//   y = x + PE,  PE[p, 2i] = sin(p / base^(2i/dim)),  PE[p, 2i+1] = cos(p / base^(2i/dim)),
// for absolute positions p from the wave's stream position (ctx.context.position). No parameters.
// Port x [batch, time, dim] with an even dim.
import {
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
  tensor,
} from '@ganglion/core';

export interface SinusoidalPositionEmbeddingConfig {
  /** Default 10000. */
  readonly base?: number;
}

/** The table PE [time, dim] for positions start .. start + time - 1. */
export function sinusoidalTable(start: number, time: number, dim: number, base = 10000): Float64Array {
  const pe = new Float64Array(time * dim);
  for (let t = 0; t < time; t++) {
    for (let i = 0; i < dim; i += 2) {
      const angle = (start + t) / base ** (i / dim);
      pe[t * dim + i] = Math.sin(angle);
      pe[t * dim + i + 1] = Math.cos(angle);
    }
  }
  return pe;
}

export class SinusoidalPositionEmbedding extends Layer<SinusoidalPositionEmbeddingConfig> {
  static override readonly kind = 'SinusoidalPositionEmbedding';
  readonly inputs = [{ name: 'x' }];

  constructor(config: SinusoidalPositionEmbeddingConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    if (lastDim('x', x) % 2 !== 0)
      throw new ShapeError(`input "x" has ${lastDim('x', x)} features; sinusoidal positions need an even number`);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }], params: [] };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, _p: unknown, ctx: LayerContext): Tensor {
    const [, time, dim] = x.shape as number[];
    return add(
      x,
      tensor(sinusoidalTable(ctx.context.position, time, dim, this.config.base), [time, dim], 'float32', x.backend),
    );
  }

  /** Native export: the table's rows at the wave's positions (`b.positionRows`). */
  lowerOnnx(b: OnnxBuilder, { x }: Readonly<Record<string, Tensor>>): Tensor {
    const dim = x.shape[2] as number;
    const base = this.config.base ?? 10000;
    return add(
      x,
      b.positionRows(`sinusoidal.${dim}.${base}`, dim, x, (start, count) => sinusoidalTable(start, count, dim, base)),
    );
  }
}
