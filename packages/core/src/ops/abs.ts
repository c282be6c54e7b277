// Abs: |x|.
import type { Tensor } from '../tensor.js';
import { NUMERIC, applyUnary, defineUnary } from './helpers.js';
import { mul } from './mul.js';
import { sign } from './sign.js';

// NOTE: the gradient at 0 is 0 (sign(0) = 0), as in PyTorch.
export const absPrimitive = defineUnary('Abs', NUMERIC, ({ inputs: [x], grad }) => [mul(grad, sign(x))]);

export function abs(x: Tensor): Tensor {
  return applyUnary(absPrimitive, x);
}
