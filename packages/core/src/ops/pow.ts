// Pow: a ** b, numpy broadcasting, float only.
import type { Tensor } from '../tensor.js';
import { FLOAT, type TensorLike, applyBinary, constLike, defineBinary } from './helpers.js';
import { greater } from './greater.js';
import { log } from './log.js';
import { mul } from './mul.js';
import { sub } from './sub.js';
import { sumToShape } from './unbroadcast.js';
import { where } from './where.js';

export const powPrimitive = defineBinary('Pow', FLOAT, ({ inputs: [a, b], output, grad }) => {
  const da = mul(grad, mul(b, pow(a, sub(b, 1))));
  // NOTE: d/db a^b = a^b ln a, defined for a > 0; where a <= 0 we return 0 (PyTorch does the same
  // for a == 0), rather than the NaN that ln would give.
  const positive = greater(a, 0);
  const safeLog = log(where(positive, a, constLike(a, 1)));
  const db = where(positive, mul(grad, mul(output, safeLog)), constLike(grad, 0));
  return [sumToShape(da, a.shape), sumToShape(db, b.shape)];
});

export function pow(a: TensorLike, b: TensorLike): Tensor {
  return applyBinary(powPrimitive, a, b);
}
