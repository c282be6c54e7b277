// ReduceSum: sum over axes.
import { apply } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { expand } from './expand.js';
import { NUMERIC } from './helpers.js';
import { definePrimitive, requireDType } from './primitive.js';
import { type ReduceAttrs, checkReduceAttrs, keptShape, reducedShape } from './reduce.js';
import { reshape } from './reshape.js';

export const reduceSumPrimitive = definePrimitive<'ReduceSum', ReduceAttrs>({
  name: 'ReduceSum',
  inputs: ['x'],
  checkAttrs: (a) => checkReduceAttrs('ReduceSum', a),
  dtype: ([x]) => {
    requireDType('ReduceSum', 'x', x, NUMERIC);
    return x.dtype;
  },
  shape: ([x], attrs) => reducedShape('ReduceSum', x, attrs),
  vjp: ({ inputs: [x], attrs, grad }) => [expand(reshape(grad, keptShape('ReduceSum', x, attrs)), x.shape)],
});

/** Sum over `axes` (all axes when omitted). */
export function reduceSum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply(reduceSumPrimitive, [x], { axes: typeof axes === 'number' ? [axes] : axes, keepdims });
}
