// ScatterAdd: the transpose of Gather. Starts from zeros with `size` entries along `axis` and adds
// each slice of `updates` at its index; repeated indices accumulate. ONNX has no single op with
// exactly this signature: export lowers it to ScatterND with reduction "add" onto zeros.
import { apply } from '../engine.js';
import { AttributeError, ShapeError } from '../errors.js';
import { type Dim, formatShape, sameDim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { gather } from './gather.js';
import { definePrimitive, requireDType, requireInt } from './primitive.js';

export interface ScatterAddAttrs {
  readonly axis: number;
  readonly size: Dim;
}

export const scatterAddPrimitive = definePrimitive<'ScatterAdd', ScatterAddAttrs>({
  name: 'ScatterAdd',
  inputs: ['indices', 'updates'],
  checkAttrs: (a) => {
    requireInt('ScatterAdd', 'axis', a.axis);
    if (typeof a.size === 'number' && (!Number.isInteger(a.size) || a.size < 0)) {
      throw new AttributeError(`ScatterAdd: attribute "size" must be a size >= 0, got ${a.size}`);
    }
  },
  dtype: ([indices, updates]) => {
    requireDType('ScatterAdd', 'indices', indices, ['int32']);
    requireDType('ScatterAdd', 'updates', updates, ['float32', 'int32']);
    return updates.dtype;
  },
  shape: ([indices, updates], { axis, size }) => {
    const k = indices.shape.length;
    const ok =
      axis >= 0 &&
      axis + k <= updates.shape.length &&
      indices.shape.every((d, i) => sameDim(d, updates.shape[axis + i]));
    if (!ok) {
      throw new ShapeError(
        `ScatterAdd: "updates" ${formatShape(updates.shape)} must hold the "indices" shape ${formatShape(indices.shape)} at axis ${axis}`,
      );
    }
    return [...updates.shape.slice(0, axis), size, ...updates.shape.slice(axis + k)];
  },
  vjp: ({ inputs: [indices], attrs: { axis }, grad }) => [null, gather(grad, indices, axis)],
});

export function scatterAdd(indices: Tensor, updates: Tensor, axis: number, size: Dim): Tensor {
  return apply(scatterAddPrimitive, [indices, updates], { axis, size });
}
