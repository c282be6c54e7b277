// Transpose: permute axes (default: reverse them, as ONNX does).
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive } from './primitive.js';

export interface TransposeAttrs {
  readonly perm: readonly number[];
}

export const transposePrimitive = definePrimitive<'Transpose', TransposeAttrs>({
  name: 'Transpose',
  inputs: ['x'],
  dtype: ([x]) => x.dtype,
  shape: ([x], { perm }) => {
    const rank = x.shape.length;
    const sorted = [...perm].sort((a, b) => a - b);
    if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
      throw new AttributeError(`Transpose: perm ${JSON.stringify(perm)} is not a permutation of the ${rank} axes of x`);
    }
    return perm.map((p) => x.shape[p]);
  },
  vjp: ({ attrs: { perm }, grad }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [transpose(grad, inverse)];
  },
});

export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  return apply(transposePrimitive, [x], { perm: perm ?? x.shape.map((_, i) => x.rank - 1 - i) });
}
