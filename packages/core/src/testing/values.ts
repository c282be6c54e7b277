// Deterministic test inputs and error measures shared by every backend's tests.
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import type { DType } from '../dtype.js';
import { uniformValues } from '../random/prng.js';
import type { Tensor } from '../tensor.js';

/** How a test input is filled. Float values are rounded to float32 so every backend sees the same numbers. */
export type Fill =
  | 'normal' // uniform in [-2, 2)
  | 'positive' // uniform in [0.5, 2)
  | 'away' // |x| in [0.2, 2): keeps clear of kinks at 0 (Abs, Relu)
  | 'bool'
  | { readonly ints: readonly [number, number] } // integers in [lo, hi)
  | { readonly values: readonly number[] };

export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype?: DType;
  readonly fill?: Fill;
  /** Leave this float input out of gradient checks. */
  readonly noGrad?: boolean;
}

/** Values for an input, deterministic in `seed`. */
export function inputValues(spec: InputSpec, seed: number): Float64Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const u = uniformValues(seed, n);
  const fill = spec.fill ?? (spec.dtype === 'bool' ? 'bool' : 'normal');
  let v: Float64Array;
  if (fill === 'normal') v = u.map((x) => 4 * x - 2);
  else if (fill === 'positive') v = u.map((x) => 0.5 + 1.5 * x);
  else if (fill === 'away') v = u.map((x) => (x < 0.5 ? -(0.2 + 3.6 * x) : 0.2 + 3.6 * (x - 0.5)));
  else if (fill === 'bool') v = u.map((x) => (x < 0.5 ? 0 : 1));
  else if ('ints' in fill) v = u.map((x) => fill.ints[0] + Math.floor(x * (fill.ints[1] - fill.ints[0])));
  else v = Float64Array.from(fill.values);
  return v.map(Math.fround);
}

export function makeInput(spec: InputSpec, seed: number, backend?: Backend): Tensor {
  return tensor(inputValues(spec, seed), spec.shape, spec.dtype ?? 'float32', backend);
}

/**
 * Scaled max error: max |a - b| / max(1, max |b|). Relative for large values, absolute below 1,
 * so values near zero (a difference of two close numbers) do not blow it up.
 */
export function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(b)) return Infinity;
    if (a === b) continue; // also equal infinities
    err = Math.max(err, Math.abs(a - b) / scale);
  }
  return err;
}
