// Max: elementwise maximum of a and b, numpy broadcasting.
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { minMaxVjp } from './min-max-vjp.js';

export const maxPrimitive = defineBinary('Max', NUMERIC, (ctx) => minMaxVjp(ctx));

export function max(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(maxPrimitive, a, b);
}
