// Layout kernels of the reference backend: transpose, concat, slice, pad, expand.
import type { TensorSpec } from '../../backend.js';
import { normalizeAxis, stridesOf } from '../../shape/dim.js';
import { sliceBounds, type SliceAttrs } from '../../ops/slice.js';
import { type Buf, type In, broadcastIndex, dims, sizeOfDims, unravel } from './util.js';

export function copy([x]: readonly In[]): Buf {
  return x.handle.slice();
}

export function transpose([x]: readonly In[], { perm }: { perm: readonly number[] }, out: TensorSpec): Buf {
  const inStrides = stridesOf(dims(x.shape));
  const outShape = dims(out.shape);
  const outStrides = stridesOf(outShape);
  const n = sizeOfDims(outShape);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = unravel(i, outStrides);
    let off = 0;
    for (let d = 0; d < c.length; d++) off += c[d] * inStrides[perm[d]];
    r[i] = x.handle[off];
  }
  return r;
}

export function concat(xs: readonly In[], { axis }: { axis: number }, out: TensorSpec): Buf {
  const outShape = dims(out.shape);
  const ax = normalizeAxis('Concat', axis, outShape.length);
  const outer = sizeOfDims(outShape.slice(0, ax));
  const inner = sizeOfDims(outShape.slice(ax + 1));
  const r = new Float64Array(sizeOfDims(outShape));
  let offset = 0;
  for (const x of xs) {
    const len = dims(x.shape)[ax];
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < len * inner; k++) {
        r[o * outShape[ax] * inner + offset * inner + k] = x.handle[o * len * inner + k];
      }
    }
    offset += len;
  }
  return r;
}

export function slice([x]: readonly In[], attrs: SliceAttrs, out: TensorSpec): Buf {
  const { begin } = sliceBounds(x.shape, attrs);
  const inStrides = stridesOf(dims(x.shape));
  const outShape = dims(out.shape);
  const outStrides = stridesOf(outShape);
  const n = sizeOfDims(outShape);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = unravel(i, outStrides);
    let off = 0;
    for (let d = 0; d < c.length; d++) off += (c[d] + begin[d]) * inStrides[d];
    r[i] = x.handle[off];
  }
  return r;
}

export function pad(
  [x]: readonly In[],
  { pads, value }: { pads: readonly number[]; value: number },
  out: TensorSpec,
): Buf {
  const inShape = dims(x.shape);
  const inStrides = stridesOf(inShape);
  const outShape = dims(out.shape);
  const r = new Float64Array(sizeOfDims(outShape)).fill(value);
  const outStrides = stridesOf(outShape);
  for (let i = 0; i < x.handle.length; i++) {
    const c = unravel(i, inStrides);
    let off = 0;
    for (let d = 0; d < c.length; d++) off += (c[d] + pads[d]) * outStrides[d];
    r[off] = x.handle[i];
  }
  return r;
}

export function expand([x]: readonly In[], _attrs: unknown, out: TensorSpec): Buf {
  const map = broadcastIndex(dims(x.shape), dims(out.shape));
  const r = new Float64Array(map.length);
  for (let i = 0; i < map.length; i++) r[i] = x.handle[map[i]];
  return r;
}
