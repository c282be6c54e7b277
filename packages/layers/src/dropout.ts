// Dropout: in training, zero each element with probability `rate` and scale the rest by
// 1 / (1 - rate) (inverted dropout, as PyTorch); at inference, the identity. The mask is drawn from
// the wave's seeded RNG stream, so a seeded run is reproducible.
import {
  AttributeError,
  Layer,
  type LayerContext,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  cast,
  div,
  greater,
  mul,
  randomUniform,
} from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export interface DropoutConfig {
  readonly rate: number;
}

export class Dropout extends Layer<DropoutConfig> {
  static override readonly kind = 'Dropout';
  readonly inputs = [{ name: 'x' }];

  constructor(config: DropoutConfig) {
    super(config);
    if (!(config.rate >= 0 && config.rate < 1))
      throw new AttributeError(`Dropout: rate must be in [0, 1), got ${config.rate}`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return sameShapeSignature(inputs);
  }

  forward({ x }: Readonly<Record<string, Tensor>>, _p: unknown, ctx: LayerContext): Tensor {
    if (!ctx.training || this.config.rate === 0) return x;
    const keepMask = cast(greater(randomUniform(x.shape as number[], ctx.nextSeed()), this.config.rate), 'float32');
    return div(mul(x, keepMask), 1 - this.config.rate);
  }
}
