// Where: cond ? x : y elementwise, numpy broadcasting over all three.
import { broadcastShapes } from '../shape/dim.js';
import { apply } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { type TensorLike, constLike, toTensors } from './helpers.js';
import { definePrimitive, requireDType, sameDType } from './primitive.js';
import { sumToShape } from './unbroadcast.js';

export const wherePrimitive = definePrimitive({
  name: 'Where',
  inputs: ['condition', 'x', 'y'],
  dtype: ([c, x, y]) => {
    requireDType('Where', 'condition', c, ['bool']);
    return sameDType('Where', [x, y], ['x', 'y']);
  },
  shape: ([c, x, y]) => broadcastShapes('Where', broadcastShapes('Where', c.shape, x.shape), y.shape),
  vjp: ({ inputs: [c, x, y], grad }) => {
    const zero = constLike(grad, 0);
    return [null, sumToShape(where(c, grad, zero), x.shape), sumToShape(where(c, zero, grad), y.shape)];
  },
});

export function where(condition: Tensor, x: TensorLike, y: TensorLike): Tensor {
  const [a, b] = toTensors('Where', x, y);
  return apply(wherePrimitive, [condition, a, b], {});
}
