// Reshape to a new shape with the same number of elements; one dim may be -1 (inferred).
import { apply } from '../engine.js';
import { AttributeError, ShapeError } from '../errors.js';
import { type Dim, type Shape, divDims, formatShape, sameDim, sizeOf } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive } from './primitive.js';

export interface ReshapeAttrs {
  readonly shape: Shape;
}

function resolve(input: Shape, target: Shape): Dim[] {
  const total = sizeOf(input);
  const inferAt = target.indexOf(-1);
  if (inferAt < 0) {
    const out = [...target];
    if (!sameDim(sizeOf(out), total)) {
      throw new ShapeError(
        `Reshape: cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(target)} (${sizeOf(out)} elements)`,
      );
    }
    return out;
  }
  const known = sizeOf(target.filter((_, i) => i !== inferAt));
  const inferred = divDims(total, known);
  if (inferred === undefined) {
    throw new ShapeError(
      `Reshape: cannot reshape ${formatShape(input)} to ${formatShape(target)}: ${total} elements do not divide by ${known}`,
    );
  }
  const out = [...target];
  out[inferAt] = inferred;
  return out;
}

export const reshapePrimitive = definePrimitive<'Reshape', ReshapeAttrs>({
  name: 'Reshape',
  inputs: ['x'],
  checkAttrs: ({ shape }) => {
    if (!Array.isArray(shape))
      throw new AttributeError(`Reshape: attribute "shape" must be a list, got ${JSON.stringify(shape)}`);
    for (const d of shape) {
      if (typeof d === 'number' && (!Number.isInteger(d) || d < -1)) {
        throw new AttributeError(
          `Reshape: attribute "shape" ${formatShape(shape)} has invalid dim ${d} (expected a size >= 0, -1 or a symbolic name)`,
        );
      }
    }
    if (shape.filter((d) => d === -1).length > 1)
      throw new AttributeError(`Reshape: attribute "shape" ${formatShape(shape)} has more than one -1`);
  },
  dtype: ([x]) => x.dtype,
  shape: ([x], { shape }) => resolve(x.shape, shape),
  vjp: ({ inputs: [x], grad }) => [reshape(grad, x.shape)],
});

/** Reshape `x`; one entry of `shape` may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  return apply(reshapePrimitive, [x], { shape });
}
