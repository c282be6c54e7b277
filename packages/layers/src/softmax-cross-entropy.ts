// SoftmaxCrossEntropy loss: logits [..., C], int32 labels [...], optional float mask [...] (1 for
// positions that count). Output y: the mean negative log-likelihood over counted positions, a
// scalar (PyTorch's F.cross_entropy with reduction 'mean').
import {
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  expectPort,
  softmaxCrossEntropy,
} from '@ganglion/core';

export class SoftmaxCrossEntropy extends Layer<Record<string, never>> {
  static override readonly kind = 'SoftmaxCrossEntropy';
  readonly inputs = [{ name: 'logits' }, { name: 'labels' }, { name: 'mask', optional: true }];

  constructor(config: Record<string, never> = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const logits = expectPort('logits', inputs.logits, 'float32', ['...', null]);
    expectPort('labels', inputs.labels, 'int32', logits.shape.slice(0, -1));
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', logits.shape.slice(0, -1));
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }

  forward({ logits, labels, mask }: Readonly<Record<string, Tensor>>): Tensor {
    return softmaxCrossEntropy(logits, labels, mask);
  }
}
