// SoftmaxCrossEntropy loss: logits [..., C], int32 labels [...], optional float mask [...] (1 for
// positions that count). Output y: the mean negative log-likelihood over counted positions, a
// scalar (PyTorch's F.cross_entropy with reduction 'mean').
// `ignoreIndex` (PyTorch's ignore_index) drops the positions whose label equals it from the mean,
// as a mask of zeros there (multiplied into `mask` when both are given): padded targets of a batch
// of sequences carry it, e.g. -1. NOTE: a label outside [0, C) one-hot encodes to all zeros, so its
// loss term is 0 already; the mask keeps it out of the count too. When every position is ignored
// the mean is 0/0 = NaN, as in PyTorch.
import {
  AttributeError,
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  cast,
  equal,
  expectPort,
  mul,
  softmaxCrossEntropy,
  sub,
} from '@ganglion/core';

export interface SoftmaxCrossEntropyConfig {
  /** Positions whose label equals this count for nothing (PyTorch's ignore_index). Default none. */
  readonly ignoreIndex?: number;
}

export class SoftmaxCrossEntropy extends Layer<SoftmaxCrossEntropyConfig> {
  static override readonly kind = 'SoftmaxCrossEntropy';
  readonly inputs = [{ name: 'logits' }, { name: 'labels' }, { name: 'mask', optional: true }];

  /** new SoftmaxCrossEntropy({ ignoreIndex: -1 }): padded labels (-1) leave the mean. */
  constructor(config: SoftmaxCrossEntropyConfig = {}) {
    super(config);
    if (config.ignoreIndex !== undefined && !Number.isInteger(config.ignoreIndex))
      throw new AttributeError(`SoftmaxCrossEntropy: ignoreIndex must be an integer, got ${config.ignoreIndex}`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const logits = expectPort('logits', inputs.logits, 'float32', ['...', null]);
    expectPort('labels', inputs.labels, 'int32', logits.shape.slice(0, -1));
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', logits.shape.slice(0, -1));
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }

  forward({ logits, labels, mask }: Readonly<Record<string, Tensor>>): Tensor {
    const { ignoreIndex } = this.config;
    if (ignoreIndex === undefined) return softmaxCrossEntropy(logits, labels, mask);
    const counted = sub(1, cast(equal(labels, ignoreIndex), 'float32'));
    return softmaxCrossEntropy(logits, labels, mask ? mul(counted, mask) : counted);
  }
}
