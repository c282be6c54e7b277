// Equal: a == b elementwise, numpy broadcasting, bool output.
import type { Tensor } from '../tensor.js';
import { type TensorLike, applyBinary, defineComparison } from './helpers.js';

export const equalPrimitive = defineComparison('Equal');

export function equal(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(equalPrimitive, a, b);
}
