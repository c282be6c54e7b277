// Reshape to a target shape; dims may be numbers, -1 (inferred) or symbolic names ('batch').
import {
  Layer,
  type LayerSignature,
  type Shape,
  type Tensor,
  type TensorSpec,
  expectPort,
  reshape,
  reshapePrimitive,
} from '@ganglion/core';

export interface ReshapeConfig {
  readonly shape: Shape;
}

export class Reshape extends Layer<ReshapeConfig> {
  static override readonly kind = 'Reshape';
  readonly inputs = [{ name: 'x' }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, ['float32', 'int32']);
    return {
      outputs: [{ name: 'y', dtype: x.dtype, shape: reshapePrimitive.shape([x], { shape: this.config.shape }) }],
      params: [],
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    // Symbolic dims resolve against the concrete input: the batch dim stays where it was.
    const target = this.config.shape.map((d, i) => (typeof d === 'string' ? x.shape[i] : d));
    return reshape(x, target);
  }
}
