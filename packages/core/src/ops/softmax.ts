// Softmax along one axis. A primitive for stability (max-shifted) and speed; tested against its
// decomposition exp(x) / sum(exp(x)).
import { apply } from '../engine.js';
import { normalizeAxis } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { mul } from './mul.js';
import { definePrimitive, requireDType, requireInt } from './primitive.js';
import { reduceSum } from './reduce-sum.js';
import { sub } from './sub.js';

export interface SoftmaxAttrs {
  readonly axis: number;
}

export const softmaxPrimitive = definePrimitive<'Softmax', SoftmaxAttrs>({
  name: 'Softmax',
  inputs: ['x'],
  checkAttrs: (a) => requireInt('Softmax', 'axis', a.axis),
  dtype: ([x]) => {
    requireDType('Softmax', 'x', x, ['float32']);
    return x.dtype;
  },
  shape: ([x], { axis }) => {
    normalizeAxis('Softmax', axis, x.shape.length);
    return x.shape;
  },
  // dx = y * (g - sum(g * y, axis))
  vjp: ({ output: y, attrs: { axis }, grad }) => [mul(y, sub(grad, reduceSum(mul(grad, y), axis, true)))],
});

export function softmax(x: Tensor, axis = -1): Tensor {
  return apply(softmaxPrimitive, [x], { axis });
}
