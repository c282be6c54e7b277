// Elementwise kernels of the reference backend: broadcasting binary maps and unary maps.
import type { TensorSpec } from '../../backend.js';
import { type Buf, type In, broadcastIndex, dims, sizeOfDims } from './util.js';

export function binary(f: (a: number, b: number) => number) {
  return ([a, b]: readonly In[], _attrs: unknown, out: TensorSpec): Buf => {
    const shape = dims(out.shape);
    const n = sizeOfDims(shape);
    const ia = broadcastIndex(dims(a.shape), shape);
    const ib = broadcastIndex(dims(b.shape), shape);
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = f(a.handle[ia[i]], b.handle[ib[i]]);
    return r;
  };
}

export function unary(f: (x: number) => number) {
  return ([x]: readonly In[]): Buf => x.handle.map(f);
}

export function where([c, x, y]: readonly In[], _attrs: unknown, out: TensorSpec): Buf {
  const shape = dims(out.shape);
  const n = sizeOfDims(shape);
  const ic = broadcastIndex(dims(c.shape), shape);
  const ix = broadcastIndex(dims(x.shape), shape);
  const iy = broadcastIndex(dims(y.shape), shape);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = c.handle[ic[i]] !== 0 ? x.handle[ix[i]] : y.handle[iy[i]];
  return r;
}

/** erf to about 1e-14: Maclaurin series below 2.5, the erfc continued fraction above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); converges fast for |x| < 2.5.
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for |x| >= 2.5.
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let k = 1; k < 300; k++) {
    const a = k / 2;
    d = ax + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = ax + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x > 0 ? 1 - erfc : erfc - 1;
}
