// Add: a + b (residual connections), numpy broadcasting.
import {
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  add,
  broadcastShapes,
  expectPort,
} from '@ganglion/core';

export class Add extends Layer<Record<string, never>> {
  static override readonly kind = 'Add';
  readonly inputs = [{ name: 'a' }, { name: 'b' }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const a = expectPort('a', inputs.a, 'float32');
    const b = expectPort('b', inputs.b, 'float32');
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: broadcastShapes('input "b"', a.shape, b.shape) }],
      params: [],
    };
  }

  forward({ a, b }: Readonly<Record<string, Tensor>>): Tensor {
    return add(a, b);
  }
}
