// Sqrt: square root.
import type { Tensor } from '../tensor.js';
import { div } from './div.js';
import { FLOAT, applyUnary, defineUnary } from './helpers.js';
import { mul } from './mul.js';

export const sqrtPrimitive = defineUnary('Sqrt', FLOAT, ({ output, grad }) => [div(grad, mul(output, 2))]);

export function sqrt(x: Tensor): Tensor {
  return applyUnary(sqrtPrimitive, x);
}
