// Gather and ScatterAdd of the reference backend, with index checks.
import type { TensorSpec } from '../../backend.js';
import { IndexError } from '../../errors.js';
import { normalizeAxis } from '../../shape/dim.js';
import { type Buf, type In, dims, sizeOfDims } from './util.js';

/** Throw IndexError naming the op when an index falls outside [0, size). */
export function checkIndices(op: string, indices: ArrayLike<number>, size: number, axis: number): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!(v >= 0 && v < size)) {
      throw new IndexError(
        `${op}: index ${v} at position ${i} is out of range for axis ${axis} of size ${size} (expected 0 <= index < ${size})`,
      );
    }
  }
}

export function gather([data, indices]: readonly In[], { axis }: { axis: number }): Buf {
  const shape = dims(data.shape);
  const ax = normalizeAxis('Gather', axis, shape.length);
  const outer = sizeOfDims(shape.slice(0, ax));
  const len = shape[ax];
  const inner = sizeOfDims(shape.slice(ax + 1));
  const idx = indices.handle;
  checkIndices('Gather', idx, len, ax);
  const r = new Float64Array(outer * idx.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < idx.length; j++) {
      const src = (o * len + idx[j]) * inner;
      const dst = (o * idx.length + j) * inner;
      for (let k = 0; k < inner; k++) r[dst + k] = data.handle[src + k];
    }
  }
  return r;
}

export function scatterAdd([indices, updates]: readonly In[], { axis }: { axis: number }, out: TensorSpec): Buf {
  const outShape = dims(out.shape);
  const size = outShape[axis];
  const outer = sizeOfDims(outShape.slice(0, axis));
  const inner = sizeOfDims(outShape.slice(axis + 1));
  const idx = indices.handle;
  checkIndices('ScatterAdd', idx, size, axis);
  const r = new Float64Array(sizeOfDims(outShape));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < idx.length; j++) {
      const src = (o * idx.length + j) * inner;
      const dst = (o * size + idx[j]) * inner;
      for (let k = 0; k < inner; k++) r[dst + k] += updates.handle[src + k];
    }
  }
  return r;
}
