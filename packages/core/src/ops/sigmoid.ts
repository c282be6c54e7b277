// Sigmoid: 1 / (1 + e^-x). A primitive (not a composite) for numerical stability at large |x|.
import type { Tensor } from '../tensor.js';
import { FLOAT, applyUnary, constLike, defineUnary } from './helpers.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

export const sigmoidPrimitive = defineUnary('Sigmoid', FLOAT, ({ output, grad }) => [
  mul(grad, mul(output, sub(constLike(output, 1), output))),
]);

export function sigmoid(x: Tensor): Tensor {
  return applyUnary(sigmoidPrimitive, x);
}
