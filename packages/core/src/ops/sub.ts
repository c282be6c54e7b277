// Sub: a - b, numpy broadcasting.
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { neg } from './neg.js';
import { sumToShape } from './unbroadcast.js';

export const subPrimitive = defineBinary('Sub', NUMERIC, ({ inputs: [a, b], grad }) => [
  sumToShape(grad, a.shape),
  sumToShape(neg(grad), b.shape),
]);

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(subPrimitive, a, b);
}
