// MSE loss: mean over all elements of (prediction - target)^2 (PyTorch's F.mse_loss).
import { Layer, type LayerSignature, type Tensor, type TensorSpec, expectPort, meanSquaredError } from '@ganglion/core';

export class MSE extends Layer<Record<string, never>> {
  static override readonly kind = 'MSE';
  readonly inputs = [{ name: 'prediction' }, { name: 'target' }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const p = expectPort('prediction', inputs.prediction, 'float32');
    expectPort('target', inputs.target, 'float32', p.shape);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }

  forward({ prediction, target }: Readonly<Record<string, Tensor>>): Tensor {
    return meanSquaredError(prediction, target);
  }
}
