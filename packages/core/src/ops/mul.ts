// Mul: a * b, numpy broadcasting.
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { sumToShape } from './unbroadcast.js';

export const mulPrimitive = defineBinary('Mul', NUMERIC, ({ inputs: [a, b], grad }) => [
  sumToShape(mul(grad, b), a.shape),
  sumToShape(mul(grad, a), b.shape),
]);

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(mulPrimitive, a, b);
}
