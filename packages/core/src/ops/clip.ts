// Clip: clamp x to [min, max] (ONNX Clip). Both bounds are finite attributes.
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { greater } from './greater.js';
import { constLike, NUMERIC } from './helpers.js';
import { less } from './less.js';
import { definePrimitive, requireDType, requireFinite } from './primitive.js';
import { where } from './where.js';

export interface ClipAttrs {
  readonly min: number;
  readonly max: number;
}

export const clipPrimitive = definePrimitive<'Clip', ClipAttrs>({
  name: 'Clip',
  inputs: ['x'],
  checkAttrs: ({ min, max }) => {
    requireFinite('Clip', 'min', min);
    requireFinite('Clip', 'max', max);
    if (min > max) throw new AttributeError(`Clip: min ${min} is greater than max ${max}`);
  },
  dtype: ([x]) => {
    requireDType('Clip', 'x', x, NUMERIC);
    return x.dtype;
  },
  shape: ([x]) => x.shape,
  // NOTE: the gradient passes where min <= x <= max, boundaries included, as in PyTorch.
  vjp: ({ inputs: [x], attrs: { min, max }, grad }) => {
    const zero = constLike(grad, 0);
    return [where(less(x, min), zero, where(greater(x, max), zero, grad))];
  },
});

export function clip(x: Tensor, min: number, max: number): Tensor {
  return apply(clipPrimitive, [x], { min, max });
}
