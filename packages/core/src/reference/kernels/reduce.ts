// Reductions, softmax and log-softmax of the reference backend.
import { normalizeAxis, stridesOf } from '../../shape/dim.js';
import type { ReduceAttrs } from '../../ops/reduce.js';
import { type Buf, type In, dims, sizeOfDims, unravel } from './util.js';

function reduce(
  x: In,
  attrs: ReduceAttrs,
  init: number,
  step: (acc: number, v: number) => number,
): { acc: Buf; counts: number } {
  const shape = dims(x.shape);
  const rank = shape.length;
  const axes = new Set((attrs.axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a)));
  const keptShape = shape.map((d, i) => (axes.has(i) ? 1 : d));
  const keptStrides = stridesOf(keptShape);
  const strides = stridesOf(shape);
  const acc = new Float64Array(sizeOfDims(keptShape)).fill(init);
  const n = sizeOfDims(shape);
  for (let i = 0; i < n; i++) {
    const c = unravel(i, strides);
    let o = 0;
    for (let d = 0; d < rank; d++) if (!axes.has(d)) o += c[d] * keptStrides[d];
    acc[o] = step(acc[o], x.handle[i]);
  }
  return { acc, counts: n / acc.length };
}

export function reduceSum([x]: readonly In[], attrs: ReduceAttrs): Buf {
  return reduce(x, attrs, 0, (a, v) => a + v).acc;
}

export function reduceMean([x]: readonly In[], attrs: ReduceAttrs): Buf {
  const { acc, counts } = reduce(x, attrs, 0, (a, v) => a + v);
  return acc.map((v) => v / counts);
}

export function reduceMax([x]: readonly In[], attrs: ReduceAttrs): Buf {
  return reduce(x, attrs, -Infinity, (a, v) => (v > a || Number.isNaN(v) ? v : a)).acc;
}

/** Apply `f` to every 1-D fibre along `axis`. */
function alongAxis(x: In, axis: number, f: (fibre: Float64Array) => Float64Array): Buf {
  const shape = dims(x.shape);
  const ax = normalizeAxis('softmax', axis, shape.length);
  const len = shape[ax];
  const inner = sizeOfDims(shape.slice(ax + 1));
  const outer = sizeOfDims(shape.slice(0, ax));
  const r = new Float64Array(x.handle.length);
  const fibre = new Float64Array(len);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      for (let k = 0; k < len; k++) fibre[k] = x.handle[base + k * inner];
      const y = f(fibre);
      for (let k = 0; k < len; k++) r[base + k * inner] = y[k];
    }
  }
  return r;
}

function logSumExp(v: Float64Array): number {
  let m = -Infinity;
  for (const a of v) m = Math.max(m, a);
  let s = 0;
  for (const a of v) s += Math.exp(a - m);
  return m + Math.log(s);
}

export function softmax([x]: readonly In[], { axis }: { axis: number }): Buf {
  return alongAxis(x, axis, (v) => {
    const lse = logSumExp(v);
    return v.map((a) => Math.exp(a - lse));
  });
}

export function logSoftmax([x]: readonly In[], { axis }: { axis: number }): Buf {
  return alongAxis(x, axis, (v) => {
    const lse = logSumExp(v);
    return v.map((a) => a - lse);
  });
}
