// Loss composites.
import { ShapeError } from '../errors.js';
import { formatShape, sameDim } from '../shape/dim.js';
import { tensor } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { cast } from '../ops/cast.js';
import { div } from '../ops/div.js';
import { equal } from '../ops/equal.js';
import { logSoftmax } from '../ops/log-softmax.js';
import { mul } from '../ops/mul.js';
import { neg } from '../ops/neg.js';
import { reduceMean } from '../ops/reduce-mean.js';
import { reduceSum } from '../ops/reduce-sum.js';
import { reshape } from '../ops/reshape.js';
import { sub } from '../ops/sub.js';

/**
 * One-hot encoding of int32 labels: [...] -> [..., depth] float32. Built from Equal against a
 * constant range, so it traces into ONNX and runs on every backend.
 */
export function oneHot(labels: Tensor, depth: number): Tensor {
  const range = tensor(
    Array.from({ length: depth }, (_, i) => i),
    [depth],
    'int32',
    labels.backend,
  );
  return cast(equal(reshape(labels, [...labels.shape, 1]), range), 'float32');
}

/**
 * Softmax cross-entropy from logits [..., C] and int32 labels [...]: the mean negative
 * log-likelihood (PyTorch's F.cross_entropy). With `mask` (float32, shape of labels), the mean is
 * taken over the positions where mask is 1.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, mask?: Tensor): Tensor {
  const lead = logits.shape.slice(0, -1);
  if (lead.length !== labels.rank || lead.some((d, i) => !sameDim(d, labels.shape[i]))) {
    throw new ShapeError(
      `softmaxCrossEntropy: labels have shape ${formatShape(labels.shape)}, expected ${formatShape(lead)} (logits ${formatShape(logits.shape)} without the class axis)`,
    );
  }
  const classes = logits.shape[logits.rank - 1];
  if (typeof classes !== 'number')
    throw new ShapeError(`softmaxCrossEntropy: the class axis must be concrete, got ${classes}`);
  const nll = neg(reduceSum(mul(logSoftmax(logits, -1), oneHot(labels, classes)), -1));
  if (!mask) return reduceMean(nll);
  return div(reduceSum(mul(nll, mask)), reduceSum(mask));
}

/** Mean squared error, mean over all elements (PyTorch's F.mse_loss). */
export function meanSquaredError(prediction: Tensor, target: Tensor): Tensor {
  const d = sub(prediction, target);
  return reduceMean(mul(d, d));
}
