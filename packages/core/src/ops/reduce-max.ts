// ReduceMax: maximum over axes.
import { apply } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { div } from './div.js';
import { equal } from './equal.js';
import { expand } from './expand.js';
import { NUMERIC } from './helpers.js';
import { mul } from './mul.js';
import { definePrimitive, requireDType } from './primitive.js';
import { type ReduceAttrs, checkReduceAttrs, keptShape, reducedShape } from './reduce.js';
import { reduceSum } from './reduce-sum.js';
import { reshape } from './reshape.js';

export const reduceMaxPrimitive = definePrimitive<'ReduceMax', ReduceAttrs>({
  name: 'ReduceMax',
  inputs: ['x'],
  checkAttrs: (a) => checkReduceAttrs('ReduceMax', a),
  dtype: ([x]) => {
    requireDType('ReduceMax', 'x', x, NUMERIC);
    return x.dtype;
  },
  shape: ([x], attrs) => reducedShape('ReduceMax', x, attrs),
  vjp: ({ inputs: [x], output, attrs, grad }) => {
    // NOTE: ties share the gradient evenly, as PyTorch's amax does.
    const kept = keptShape('ReduceMax', x, attrs);
    const mask = cast(equal(x, reshape(output, kept)), grad.dtype);
    const count = reduceSum(mask, attrs.axes, true);
    return [mul(mask, expand(div(reshape(grad, kept), count), x.shape))];
  },
});

/** Maximum over `axes` (all axes when omitted). */
export function reduceMax(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply(reduceMaxPrimitive, [x], { axes: typeof axes === 'number' ? [axes] : axes, keepdims });
}
