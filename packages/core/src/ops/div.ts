// Div: a / b, numpy broadcasting. On int32 it truncates toward zero (as ONNX Div does).
import type { Tensor } from '../tensor.js';
import { NUMERIC, type TensorLike, applyBinary, defineBinary } from './helpers.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { sumToShape } from './unbroadcast.js';

export const divPrimitive = defineBinary('Div', NUMERIC, ({ inputs: [a, b], output, grad }) => {
  const gb = div(grad, b);
  // d(a/b)/db = -a/b^2 = -(a/b)/b: reuse the output instead of squaring b.
  return [sumToShape(gb, a.shape), sumToShape(neg(mul(gb, output)), b.shape)];
});

export function div(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(divPrimitive, a, b);
}
