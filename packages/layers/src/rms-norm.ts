// RMSNorm over the last dim (Zhang & Sennrich 2019; torch.nn.RMSNorm):
//   y = x / √(mean(x², -1) + eps) · weight
// Parameter: weight [dim] (ones). Port x [..., dim] -> y of the same shape.
import {
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  add,
  div,
  expectPort,
  lastDim,
  mul,
  reduceMean,
  sqrt,
} from '@ganglion/core';

export interface RMSNormConfig {
  /** Default 1e-6. */
  readonly eps?: number;
}

/** x / √(mean(x²) + eps) · weight over the last dim. */
export function rmsNorm(x: Tensor, weight: Tensor | undefined, eps = 1e-6): Tensor {
  const normed = div(x, sqrt(add(reduceMean(mul(x, x), -1, true), eps)));
  return weight ? mul(normed, weight) : normed;
}

export class RMSNorm extends Layer<RMSNormConfig> {
  static override readonly kind = 'RMSNorm';
  readonly inputs = [{ name: 'x' }];

  constructor(config: RMSNormConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [{ name: 'weight', shape: [lastDim('x', x)], init: { kind: 'ones' } }],
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, { weight }: Readonly<Record<string, Tensor>>): Tensor {
    return rmsNorm(x, weight, this.config.eps ?? 1e-6);
  }
}
