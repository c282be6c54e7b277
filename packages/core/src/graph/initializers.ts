// Parameter initializers, seeded. The names and formulas are the ones Keras and PyTorch users know
// (Glorot/Xavier, He/Kaiming, orthogonal, zeros, ...). Each draws from core's counter-based
// generator, so the same seed gives the same weights on every backend.

import { normalValues, uniformValues } from '../random/prng.js';

export type Initializer =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly mean?: number; readonly std: number }
  /** Glorot/Xavier uniform: U(-a, a), a = gain * sqrt(6 / (fanIn + fanOut)). */
  | { readonly kind: 'glorot-uniform'; readonly gain?: number }
  /** Glorot/Xavier normal: N(0, gain^2 * 2 / (fanIn + fanOut)). */
  | { readonly kind: 'glorot-normal'; readonly gain?: number }
  /** He/Kaiming normal (fan-in, ReLU gain): N(0, 2 / fanIn). */
  | { readonly kind: 'he-normal' }
  /** He/Kaiming uniform (fan-in, ReLU gain): U(-a, a), a = sqrt(6 / fanIn). */
  | { readonly kind: 'he-uniform' }
  /** (Semi-)orthogonal rows or columns, as torch.nn.init.orthogonal_. */
  | { readonly kind: 'orthogonal'; readonly gain?: number };

/**
 * Fan-in and fan-out of a weight shape. By Ganglion's convention a 2-D weight is stored
 * [in, out] (x @ W); shapes of rank > 2 treat the last two dims that way, times the leading dims.
 */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}

/** Orthogonal matrix rows x cols via modified Gram-Schmidt on a normal matrix (float64). */
function orthogonal(rows: number, cols: number, seed: number, gain: number): Float64Array {
  // Orthonormalise the longer side's vectors: work on a (big x small) matrix's columns.
  const tall = rows >= cols;
  const n = tall ? rows : cols; // vector length
  const k = tall ? cols : rows; // number of vectors
  const a = normalValues(seed, n * k);
  const v: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const col = a.subarray(j * n, (j + 1) * n).slice();
    for (const q of v) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i] * col[i];
      for (let i = 0; i < n; i++) col[i] -= d * q[i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) col[i] /= norm;
    v.push(col);
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = gain * (tall ? v[c][r] : v[r][c]);
  }
  return out;
}

/** Values for a parameter of `shape`, deterministic in `seed`. */
export function initialValues(init: Initializer, shape: readonly number[], seed: number): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const { fanIn, fanOut } = fans(shape);
  switch (init.kind) {
    case 'zeros':
      return new Float64Array(n);
    case 'ones':
      return new Float64Array(n).fill(1);
    case 'constant':
      return new Float64Array(n).fill(init.value);
    case 'uniform':
      return uniformValues(seed, n, init.low, init.high);
    case 'normal':
      return normalValues(seed, n, init.mean ?? 0, init.std);
    case 'glorot-uniform': {
      const a = (init.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
      return uniformValues(seed, n, -a, a);
    }
    case 'glorot-normal':
      return normalValues(seed, n, 0, (init.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)));
    case 'he-normal':
      return normalValues(seed, n, 0, Math.sqrt(2 / fanIn));
    case 'he-uniform': {
      const a = Math.sqrt(6 / fanIn);
      return uniformValues(seed, n, -a, a);
    }
    case 'orthogonal': {
      const rows = shape.length >= 2 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
      return orthogonal(rows, shape[shape.length - 1] ?? 1, seed, init.gain ?? 1);
    }
  }
}
