// ReLU: y = max(x, 0), elementwise.
import { Layer, type LayerSignature, type Tensor, type TensorSpec, relu } from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export class ReLU extends Layer<Record<string, never>> {
  static override readonly kind = 'ReLU';
  readonly inputs = [{ name: 'x' }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return sameShapeSignature(inputs);
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return relu(x);
  }
}
