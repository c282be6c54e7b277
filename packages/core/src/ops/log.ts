// Log: natural logarithm.
import type { Tensor } from '../tensor.js';
import { div } from './div.js';
import { FLOAT, applyUnary, defineUnary } from './helpers.js';

export const logPrimitive = defineUnary('Log', FLOAT, ({ inputs: [x], grad }) => [div(grad, x)]);

export function log(x: Tensor): Tensor {
  return applyUnary(logPrimitive, x);
}
