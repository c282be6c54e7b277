// Expand: broadcast x to a shape (numpy rules, as ONNX Expand). Its gradient sums back.
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import { type Shape, broadcastShapes } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive } from './primitive.js';
import { sumToShape } from './unbroadcast.js';

export interface ExpandAttrs {
  readonly shape: Shape;
}

export const expandPrimitive = definePrimitive<'Expand', ExpandAttrs>({
  name: 'Expand',
  inputs: ['x'],
  checkAttrs: ({ shape }) => {
    if (!Array.isArray(shape) || shape.some((d) => typeof d === 'number' && (!Number.isInteger(d) || d < 0))) {
      throw new AttributeError(`Expand: attribute "shape" must be a list of sizes, got ${JSON.stringify(shape)}`);
    }
  },
  dtype: ([x]) => x.dtype,
  shape: ([x], { shape }) => broadcastShapes('Expand', x.shape, shape),
  vjp: ({ inputs: [x], grad }) => [sumToShape(grad, x.shape)],
});

export function expand(x: Tensor, shape: Shape): Tensor {
  return apply(expandPrimitive, [x], { shape });
}
