// Softmax along an axis (default the last).
import { Layer, type LayerSignature, type Tensor, type TensorSpec, normalizeAxis, softmax } from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export interface SoftmaxConfig {
  readonly axis?: number;
}

export class Softmax extends Layer<SoftmaxConfig> {
  static override readonly kind = 'Softmax';
  readonly inputs = [{ name: 'x' }];

  constructor(config: SoftmaxConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const sig = sameShapeSignature(inputs);
    normalizeAxis('Softmax', this.config.axis ?? -1, inputs.x!.shape.length);
    return sig;
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return softmax(x, this.config.axis ?? -1);
  }
}
