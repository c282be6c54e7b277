// Sigmoid: y = 1 / (1 + e^-x), elementwise.
import { Layer, type LayerSignature, type Tensor, type TensorSpec, sigmoid } from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export class Sigmoid extends Layer<Record<string, never>> {
  static override readonly kind = 'Sigmoid';
  readonly inputs = [{ name: 'x' }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return sameShapeSignature(inputs);
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return sigmoid(x);
  }
}
