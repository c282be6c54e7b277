// Add: a + b, numpy broadcasting.
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { sumToShape } from './unbroadcast.js';

export const addPrimitive = defineBinary('Add', NUMERIC, ({ inputs: [a, b], grad }) => [
  sumToShape(grad, a.shape),
  sumToShape(grad, b.shape),
]);

export function add(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(addPrimitive, a, b);
}
