// MatMul: batched matrix product with numpy broadcasting of the batch dims. The primitive takes
// rank >= 2 operands; `matMul` also accepts 1-D operands the numpy way (a composite).
import { apply } from '../engine.js';
import { ShapeError } from '../errors.js';
import { broadcastShapes, formatShape, sameDim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { NUMERIC } from './helpers.js';
import { definePrimitive, requireDType, requireRank, sameDType } from './primitive.js';
import { reshape } from './reshape.js';
import { transpose } from './transpose.js';
import { sumToShape } from './unbroadcast.js';

function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

export const matMulPrimitive = definePrimitive({
  name: 'MatMul',
  inputs: ['a', 'b'],
  dtype: (ins) => {
    requireDType('MatMul', 'a', ins[0], NUMERIC);
    return sameDType('MatMul', ins, ['a', 'b']);
  },
  shape: ([a, b]) => {
    requireRank('MatMul', 'a', a, (r) => r >= 2, 'rank >= 2');
    requireRank('MatMul', 'b', b, (r) => r >= 2, 'rank >= 2');
    const k1 = a.shape[a.shape.length - 1];
    const k2 = b.shape[b.shape.length - 2];
    if (!sameDim(k1, k2)) {
      throw new ShapeError(
        `MatMul: inner dims ${k1} and ${k2} differ (a: ${formatShape(a.shape)}, b: ${formatShape(b.shape)})`,
      );
    }
    const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]];
  },
  vjp: ({ inputs: [a, b], grad }) => [
    sumToShape(matMulPrimitiveApply(grad, swapLast(b)), a.shape),
    weightGrad(a, b, grad),
  ],
});

/**
 * d/db. NOTE: for a matrix b applied to a batched a (x [batch, time, K] @ W [K, N]) the batched
 * form aᵀ @ g makes a [batch, K, N] temporary of per-batch products and sums it; one product over
 * the flattened rows, [K, batch·time] @ [batch·time, N], is the same sum without it.
 */
function weightGrad(a: Tensor, b: Tensor, grad: Tensor): Tensor {
  const lead = a.shape.slice(0, -2);
  if (b.rank === 2 && lead.length > 0 && lead.every((d) => typeof d === 'number')) {
    const rows = (x: Tensor) => reshape(x, [-1, x.shape[x.rank - 1]]);
    return matMulPrimitiveApply(swapLast(rows(a)), rows(grad));
  }
  return sumToShape(matMulPrimitiveApply(swapLast(a), grad), b.shape);
}

function matMulPrimitiveApply(a: Tensor, b: Tensor): Tensor {
  return apply(matMulPrimitive, [a, b], {});
}

/**
 * Matrix product, numpy semantics: batch dims broadcast; a 1-D `a` is a row vector and a 1-D `b` a
 * column vector, and that dim is dropped from the result.
 *
 *   matMul(x, w)   // [batch, time, 64] @ [64, 256] -> [batch, time, 256]
 */
export function matMul(a: Tensor, b: Tensor): Tensor {
  if (a.rank >= 2 && b.rank >= 2) return matMulPrimitiveApply(a, b);
  if (a.rank === 0 || b.rank === 0) {
    throw new ShapeError(
      `MatMul: operands must have rank >= 1, got a: ${formatShape(a.shape)}, b: ${formatShape(b.shape)}`,
    );
  }
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const out = matMulPrimitiveApply(a2, b2);
  const shape = [...out.shape];
  if (b.rank === 1) shape.splice(shape.length - 1, 1);
  if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
  return reshape(out, shape);
}
