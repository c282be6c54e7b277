// Exp: e^x.
import type { Tensor } from '../tensor.js';
import { FLOAT, applyUnary, defineUnary } from './helpers.js';
import { mul } from './mul.js';

export const expPrimitive = defineUnary('Exp', FLOAT, ({ output, grad }) => [mul(grad, output)]);

export function exp(x: Tensor): Tensor {
  return applyUnary(expPrimitive, x);
}
