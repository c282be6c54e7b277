// Pad: constant padding (ONNX Pad, mode "constant"); pads lists every axis's begin, then every
// axis's end. Its gradient is a Slice, and Slice's gradient is a Pad.
import { apply } from '../engine.js';
import { AttributeError, ShapeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, requireFinite, requireIntList } from './primitive.js';
import { slice } from './slice.js';

export interface PadAttrs {
  readonly pads: readonly number[];
  readonly value: number;
}

export const padPrimitive = definePrimitive<'Pad', PadAttrs>({
  name: 'Pad',
  inputs: ['x'],
  checkAttrs: (a) => {
    requireIntList('Pad', 'pads', a.pads);
    if (a.pads.some((p) => p < 0))
      throw new AttributeError(`Pad: negative pads ${JSON.stringify(a.pads)} are not supported (use Slice)`);
    requireFinite('Pad', 'value', a.value);
  },
  dtype: ([x]) => x.dtype,
  shape: ([x], { pads }) => {
    const rank = x.shape.length;
    if (pads.length !== 2 * rank)
      throw new AttributeError(
        `Pad: "pads" has ${pads.length} entries, expected ${2 * rank} (begin and end of each of ${rank} axes)`,
      );
    return x.shape.map((d, i) => {
      const extra = pads[i] + pads[i + rank];
      if (extra === 0) return d;
      if (typeof d !== 'number') throw new ShapeError(`Pad: cannot pad symbolic axis ${i} (${d})`);
      return d + extra;
    });
  },
  vjp: ({ inputs: [x], attrs: { pads }, grad }) => {
    const rank = x.rank;
    const axes = x.shape.map((_, i) => i);
    return [
      slice(
        grad,
        pads.slice(0, rank),
        axes.map((i) => pads[i] + (x.shape[i] as number)),
        axes,
      ),
    ];
  },
});

export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  return apply(padPrimitive, [x], { pads, value });
}
