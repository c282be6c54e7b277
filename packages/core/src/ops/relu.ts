// Relu: max(x, 0).
import type { Tensor } from '../tensor.js';
import { greater } from './greater.js';
import { FLOAT, applyUnary, constLike, defineUnary } from './helpers.js';
import { where } from './where.js';

// NOTE: the gradient at exactly 0 is 0, as in PyTorch.
export const reluPrimitive = defineUnary('Relu', FLOAT, ({ inputs: [x], grad }) => [
  where(greater(x, 0), grad, constLike(grad, 0)),
]);

export function relu(x: Tensor): Tensor {
  return applyUnary(reluPrimitive, x);
}
