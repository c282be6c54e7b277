// LogSoftmax along one axis: x - logsumexp(x). A primitive for numerical stability.
import { apply } from '../engine.js';
import { normalizeAxis } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { exp } from './exp.js';
import { mul } from './mul.js';
import { definePrimitive, requireDType, requireInt } from './primitive.js';
import { reduceSum } from './reduce-sum.js';
import { sub } from './sub.js';

export interface LogSoftmaxAttrs {
  readonly axis: number;
}

export const logSoftmaxPrimitive = definePrimitive<'LogSoftmax', LogSoftmaxAttrs>({
  name: 'LogSoftmax',
  inputs: ['x'],
  checkAttrs: (a) => requireInt('LogSoftmax', 'axis', a.axis),
  dtype: ([x]) => {
    requireDType('LogSoftmax', 'x', x, ['float32']);
    return x.dtype;
  },
  shape: ([x], { axis }) => {
    normalizeAxis('LogSoftmax', axis, x.shape.length);
    return x.shape;
  },
  // dx = g - softmax(x) * sum(g, axis)
  vjp: ({ output: y, attrs: { axis }, grad }) => [sub(grad, mul(exp(y), reduceSum(grad, axis, true)))],
});

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply(logSoftmaxPrimitive, [x], { axis });
}
