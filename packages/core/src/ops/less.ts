// Less: a < b elementwise, numpy broadcasting, bool output.
import type { Tensor } from '../tensor.js';
import { type TensorLike, applyBinary, defineComparison } from './helpers.js';

export const lessPrimitive = defineComparison('Less');

export function less(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(lessPrimitive, a, b);
}
