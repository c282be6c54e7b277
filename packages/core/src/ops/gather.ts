// Gather: pick slices of `data` along an axis by int32 indices (ONNX Gather, indices of any rank).
// Indices must lie in [0, size); a backend raises IndexError otherwise. The gradient is ScatterAdd.
import { apply } from '../engine.js';
import { ShapeError } from '../errors.js';
import { normalizeAxis } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, requireDType, requireInt } from './primitive.js';
import { scatterAdd } from './scatter-add.js';

export interface GatherAttrs {
  readonly axis: number;
}

export const gatherPrimitive = definePrimitive<'Gather', GatherAttrs>({
  name: 'Gather',
  inputs: ['data', 'indices'],
  checkAttrs: (a) => requireInt('Gather', 'axis', a.axis),
  dtype: ([data, indices]) => {
    requireDType('Gather', 'indices', indices, ['int32']);
    return data.dtype;
  },
  shape: ([data, indices], { axis }) => {
    if (data.shape.length === 0) throw new ShapeError('Gather: input "data" is a scalar, expected rank >= 1');
    const ax = normalizeAxis('Gather', axis, data.shape.length);
    return [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
  },
  vjp: ({ inputs: [data, indices], attrs: { axis }, grad }) => {
    const ax = normalizeAxis('Gather', axis, data.rank);
    return [scatterAdd(indices, grad, ax, data.shape[ax]), null];
  },
});

/** `gather(table, ids, 0)` is an embedding lookup. */
export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  return apply(gatherPrimitive, [data, indices], { axis });
}
