// ReduceMean: mean over axes.
import { apply } from '../engine.js';
import { ShapeError } from '../errors.js';
import { sizeOf, divDims } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { div } from './div.js';
import { expand } from './expand.js';
import { definePrimitive, requireDType } from './primitive.js';
import { type ReduceAttrs, checkReduceAttrs, keptShape, reducedShape } from './reduce.js';
import { reshape } from './reshape.js';

export const reduceMeanPrimitive = definePrimitive<'ReduceMean', ReduceAttrs>({
  name: 'ReduceMean',
  inputs: ['x'],
  checkAttrs: (a) => checkReduceAttrs('ReduceMean', a),
  dtype: ([x]) => {
    requireDType('ReduceMean', 'x', x, ['float32']);
    return x.dtype;
  },
  shape: ([x], attrs) => reducedShape('ReduceMean', x, attrs),
  vjp: ({ inputs: [x], attrs, grad }) => {
    const kept = keptShape('ReduceMean', x, attrs);
    const count = divDims(sizeOf(x.shape), sizeOf(kept));
    // NOTE: gradients are traced per concrete input signature, so the count is always a number.
    if (typeof count !== 'number')
      throw new ShapeError(`ReduceMean: gradient needs a concrete reduced size, got ${String(count)}`);
    const g = div(reshape(grad, kept), count);
    return [expand(g, x.shape)];
  },
});

/** Mean over `axes` (all axes when omitted). */
export function reduceMean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply(reduceMeanPrimitive, [x], { axes: typeof axes === 'number' ? [axes] : axes, keepdims });
}
