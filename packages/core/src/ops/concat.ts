// Concat: join tensors along an axis.
import { apply } from '../engine.js';
import { ShapeError } from '../errors.js';
import { type Dim, formatShape, mulDims, normalizeAxis, sameDim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, requireInt, sameDType } from './primitive.js';
import { slice } from './slice.js';

export interface ConcatAttrs {
  readonly axis: number;
}

function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (sameDim(a, b)) return mulDims(2, a);
  throw new ShapeError(`Concat: cannot add symbolic dims ${a} and ${b}`);
}

export const concatPrimitive = definePrimitive<'Concat', ConcatAttrs>({
  name: 'Concat',
  inputs: ['inputs'],
  variadic: true,
  checkAttrs: (a) => requireInt('Concat', 'axis', a.axis),
  dtype: (ins) =>
    sameDType(
      'Concat',
      ins,
      ins.map((_, i) => `inputs[${i}]`),
    ),
  shape: (ins, { axis }) => {
    const rank = ins[0].shape.length;
    const ax = normalizeAxis('Concat', axis, rank);
    const out = [...ins[0].shape];
    for (let i = 1; i < ins.length; i++) {
      const s = ins[i].shape;
      const mismatch = s.length !== rank || s.some((d, k) => k !== ax && !sameDim(d, out[k]));
      if (mismatch) {
        throw new ShapeError(
          `Concat: "inputs[${i}]" has shape ${formatShape(s)}, expected ${formatShape(ins[0].shape)} except along axis ${ax}`,
        );
      }
      out[ax] = addDims(out[ax], s[ax]);
    }
    return out;
  },
  vjp: ({ inputs, attrs: { axis }, grad }) => {
    const ax = normalizeAxis('Concat', axis, grad.rank);
    let offset = 0;
    return inputs.map((x) => {
      const n = x.shape[ax];
      if (typeof n !== 'number')
        throw new ShapeError(`Concat: gradient needs concrete sizes along axis ${ax}, got ${n}`);
      const g = slice(grad, [offset], [offset + n], [ax]);
      offset += n;
      return g;
    });
  },
});

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  return apply(concatPrimitive, xs, { axis });
}
