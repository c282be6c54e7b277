// PositionEmbedding: learned absolute positions, y = x + weight[position .. position + time].
// Parameter: weight [maxLen, dim] (GPT-2's wpe; N(0, 0.02²) by default). Port x [batch, time, dim].
// The first row used is the wave's stream position (ctx.context.position; 0 outside streaming), so
// one token per wave gets the right row; a stream longer than maxLen is an error (use RoPE, which
// has no such limit).
import {
  AttributeError,
  type Initializer,
  Layer,
  type LayerContext,
  type OnnxBuilder,
  gather,
  type LayerSignature,
  ShapeError,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  slice,
} from '@ganglion/core';

export interface PositionEmbeddingConfig {
  readonly maxLen: number;
  readonly dim: number;
  /** Default N(0, 0.02²), as GPT-2. */
  readonly init?: Initializer;
}

export class PositionEmbedding extends Layer<PositionEmbeddingConfig> {
  static override readonly kind = 'PositionEmbedding';
  readonly inputs = [{ name: 'x' }];

  constructor(config: PositionEmbeddingConfig) {
    super(config);
    if (!(Number.isInteger(config.maxLen) && config.maxLen >= 1))
      throw new AttributeError(`PositionEmbedding: maxLen must be a positive integer, got ${config.maxLen}`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, this.config.dim]);
    const time = x.shape[1];
    if (typeof time === 'number' && time > this.config.maxLen)
      throw new ShapeError(`input "x" has ${time} time steps, more than maxLen ${this.config.maxLen}`);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [
        {
          name: 'weight',
          shape: [this.config.maxLen, this.config.dim],
          init: this.config.init ?? { kind: 'normal', std: 0.02 },
        },
      ],
    };
  }

  forward(
    { x }: Readonly<Record<string, Tensor>>,
    { weight }: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): Tensor {
    const start = ctx.context.position;
    const time = x.shape[1] as number;
    if (start + time > this.config.maxLen) {
      throw new ShapeError(
        `positions ${start}..${start + time - 1} go past maxLen ${this.config.maxLen}; learned position embeddings cannot extrapolate (use rope, or a larger maxLen)`,
      );
    }
    return add(x, slice(weight, [start], [start + time], [0]));
  }

  /** Native export: the rows at the wave's positions (b.positions), so the time dim stays free. */
  lowerOnnx(
    b: OnnxBuilder,
    { x }: Readonly<Record<string, Tensor>>,
    { weight }: Readonly<Record<string, Tensor>>,
  ): Tensor {
    return add(x, gather(weight, b.positions(x), 0));
  }
}
