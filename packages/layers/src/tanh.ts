// Tanh: y = hyperbolic tangent, elementwise.
import { Layer, type LayerSignature, type Tensor, type TensorSpec, tanh } from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export class Tanh extends Layer<Record<string, never>> {
  static override readonly kind = 'Tanh';
  readonly inputs = [{ name: 'x' }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return sameShapeSignature(inputs);
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return tanh(x);
  }
}
