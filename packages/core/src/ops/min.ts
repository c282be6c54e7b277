// Min: elementwise minimum of a and b, numpy broadcasting.
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { minMaxVjp } from './min-max-vjp.js';

export const minPrimitive = defineBinary('Min', NUMERIC, (ctx) => minMaxVjp(ctx));

export function min(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(minPrimitive, a, b);
}
