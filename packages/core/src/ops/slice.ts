// Slice: x[starts:ends] along the given axes, step 1, with ONNX's rules: negative indices count
// from the end and out-of-range indices are clamped.
import { apply } from '../engine.js';
import { AttributeError, ShapeError } from '../errors.js';
import type { Dim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { pad } from './pad.js';
import { definePrimitive, normalizeAxes, requireIntList } from './primitive.js';

export interface SliceAttrs {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Axes the starts/ends refer to; default 0..n-1. */
  readonly axes?: readonly number[];
}

/** Resolved [start, end) per axis for a concrete shape: what backends execute. */
export function sliceBounds(shape: readonly Dim[], attrs: SliceAttrs): { begin: number[]; size: number[] } {
  const rank = shape.length;
  const axes = attrs.axes ?? attrs.starts.map((_, i) => i);
  const begin = new Array<number>(rank).fill(0);
  const size = shape.map((d) => (typeof d === 'number' ? d : -1));
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + rank : a0;
    const dim = shape[a];
    if (typeof dim !== 'number') {
      if (attrs.starts[i] === 0 && attrs.ends[i] >= Number.MAX_SAFE_INTEGER) return; // whole symbolic axis
      throw new ShapeError(`Slice: axis ${a} has symbolic size ${dim}; only a whole-axis slice is allowed on it`);
    }
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(attrs.starts[i]);
    const e = clamp(attrs.ends[i]);
    begin[a] = s;
    size[a] = Math.max(e - s, 0);
  });
  return { begin, size };
}

export const slicePrimitive = definePrimitive<'Slice', SliceAttrs>({
  name: 'Slice',
  inputs: ['x'],
  checkAttrs: (a) => {
    requireIntList('Slice', 'starts', a.starts);
    requireIntList(
      'Slice',
      'ends',
      a.ends.map((e) => (e === Infinity ? Number.MAX_SAFE_INTEGER : e)),
    );
    if (a.axes !== undefined) requireIntList('Slice', 'axes', a.axes);
    const n = a.axes?.length ?? a.starts.length;
    if (a.starts.length !== n || a.ends.length !== n) {
      throw new AttributeError(
        `Slice: starts (${a.starts.length}), ends (${a.ends.length}) and axes (${n}) must have the same length`,
      );
    }
  },
  dtype: ([x]) => x.dtype,
  shape: ([x], attrs) => {
    normalizeAxes('Slice', attrs.axes ?? attrs.starts.map((_, i) => i), x.shape.length);
    const { size } = sliceBounds(x.shape, attrs);
    return size.map((s, i) => (s < 0 ? x.shape[i] : s));
  },
  window: ([x], attrs) => sliceBounds(x.shape, attrs),
  vjp: ({ inputs: [x], output, attrs, grad }) => {
    const { begin } = sliceBounds(x.shape, attrs);
    const after = x.shape.map((d, i) => (typeof d === 'number' ? d - begin[i] - (output.shape[i] as number) : 0));
    return [pad(grad, [...begin, ...after])];
  },
});

/**
 * `slice(x, starts, ends, axes)`: ONNX Slice with step 1.
 *
 *   slice(x, [1], [-1], [2])   // x[:, :, 1:-1]
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Tensor {
  return apply(slicePrimitive, [x], {
    starts,
    ends: ends.map((e) => (e === Infinity ? Number.MAX_SAFE_INTEGER : e)),
    axes,
  });
}
