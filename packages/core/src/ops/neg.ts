// Neg: -x.
import type { Tensor } from '../tensor.js';
import { NUMERIC, applyUnary, defineUnary } from './helpers.js';

export const negPrimitive = defineUnary('Neg', NUMERIC, ({ grad }) => [neg(grad)]);

export function neg(x: Tensor): Tensor {
  return applyUnary(negPrimitive, x);
}
