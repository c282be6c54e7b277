// Erf: the error function, the core of the exact GELU.
import type { Tensor } from '../tensor.js';
import { exp } from './exp.js';
import { FLOAT, applyUnary, defineUnary } from './helpers.js';
import { mul } from './mul.js';
import { neg } from './neg.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export const erfPrimitive = defineUnary('Erf', FLOAT, ({ inputs: [x], grad }) => [
  mul(grad, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI)),
]);

export function erf(x: Tensor): Tensor {
  return applyUnary(erfPrimitive, x);
}
