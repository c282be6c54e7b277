// Sign: -1, 0 or 1. Piecewise constant, so it passes no gradient.
import type { Tensor } from '../tensor.js';
import { NUMERIC, applyUnary, defineUnary } from './helpers.js';

export const signPrimitive = defineUnary('Sign', NUMERIC, null);

export function sign(x: Tensor): Tensor {
  return applyUnary(signPrimitive, x);
}
