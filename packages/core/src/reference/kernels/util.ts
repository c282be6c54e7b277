// Index arithmetic for the reference kernels: obviously-correct loops over row-major buffers.
import type { Operand } from '../../backend.js';
import type { Shape } from '../../shape/dim.js';
import { stridesOf } from '../../shape/dim.js';

export type Buf = Float64Array;
export type In = Operand<Buf>;

/** A shape that must be concrete by the time a backend sees it. */
export function dims(shape: Shape): number[] {
  return shape as number[];
}

export function sizeOfDims(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** For each flat index of `out`, the flat index into an input broadcast to `out`. */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = sizeOfDims(outShape);
  const map = new Int32Array(n);
  const rank = outShape.length;
  const lead = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  const outStrides = stridesOf(outShape);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let off = 0;
    for (let d = 0; d < rank; d++) {
      const coord = Math.floor(rem / outStrides[d]);
      rem -= coord * outStrides[d];
      if (d >= lead && inShape[d - lead] !== 1) off += coord * inStrides[d - lead];
    }
    map[i] = off;
  }
  return map;
}

/** Unravel a flat index into coordinates. */
export function unravel(i: number, strides: readonly number[]): number[] {
  const coords = new Array<number>(strides.length);
  let rem = i;
  for (let d = 0; d < strides.length; d++) {
    coords[d] = Math.floor(rem / strides[d]);
    rem -= coords[d] * strides[d];
  }
  return coords;
}
