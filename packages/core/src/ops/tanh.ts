// Tanh: hyperbolic tangent.
import type { Tensor } from '../tensor.js';
import { FLOAT, applyUnary, constLike, defineUnary } from './helpers.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

export const tanhPrimitive = defineUnary('Tanh', FLOAT, ({ output, grad }) => [
  mul(grad, sub(constLike(output, 1), mul(output, output))),
]);

export function tanh(x: Tensor): Tensor {
  return applyUnary(tanhPrimitive, x);
}
