// Cast to another dtype. float -> int32 truncates toward zero; anything -> bool is (x != 0).
import type { DType } from '../dtype.js';
import { isDType, isFloat } from '../dtype.js';
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive } from './primitive.js';

export interface CastAttrs {
  readonly to: DType;
}

export const castPrimitive = definePrimitive<'Cast', CastAttrs>({
  name: 'Cast',
  inputs: ['x'],
  checkAttrs: ({ to }) => {
    if (!isDType(to))
      throw new AttributeError(`Cast: attribute "to" must be float32, int32 or bool, got ${String(to)}`);
  },
  dtype: (_, { to }) => to,
  shape: ([x]) => x.shape,
  vjp: ({ inputs: [x], attrs: { to }, grad }) => [isFloat(x.dtype) && isFloat(to) ? grad : null],
});

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return apply(castPrimitive, [x], { to });
}
