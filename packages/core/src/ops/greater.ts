// Greater: a > b elementwise, numpy broadcasting, bool output.
import type { Tensor } from '../tensor.js';
import { type TensorLike, applyBinary, defineComparison } from './helpers.js';

export const greaterPrimitive = defineComparison('Greater');

export function greater(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(greaterPrimitive, a, b);
}
