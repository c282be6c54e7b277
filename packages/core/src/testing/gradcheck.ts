// Gradient checking against float64 central finite differences along a random direction
// (the JAX way: one directional derivative per input instead of one per element).
import { vjp } from '../autodiff/grad.js';
import { tensor } from '../creation.js';
import { tidy } from '../engine.js';
import { uniformValues } from '../random/prng.js';
import type { Tensor } from '../tensor.js';

export interface GradCheck {
  /** Index of the input checked. */
  readonly input: number;
  /** Directional derivative from finite differences. */
  readonly numeric: number;
  /** Directional derivative from the VJP. */
  readonly analytic: number;
  readonly relError: number;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Check the VJP of `fn` at `xs` for the inputs `wrt`. The scalar checked is L = <w, fn(xs)> with a
 * fixed random `w`; for each input a random direction v gives numeric (L(x+εv) - L(x-εv)) / 2ε
 * against analytic <dL/dx, v>. Run it on the reference backend: it is float64 there.
 */
export function checkGradients(
  fn: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  wrt: readonly number[],
  seed = 1,
  eps = 1e-5,
): GradCheck[] {
  return tidy(() => {
    const y = fn(...xs);
    const w = uniformValues(seed, y.size, -1, 1);
    const wT = tensor(w, y.shape, 'float32', y.backend);
    const { grads } = vjp(fn, xs, wT);
    const loss = (args: Tensor[]) => tidy(() => dot(fn(...args).dataSync(), w));
    return wrt.map((i, k) => {
      const x = xs[i];
      const v = uniformValues(seed * 7919 + k + 1, x.size, -1, 1);
      const base = x.dataSync();
      const shifted = (sign: number) => {
        const args = [...xs];
        args[i] = tensor(
          base.map((b, j) => b + sign * eps * v[j]),
          x.shape,
          x.dtype,
          x.backend,
        );
        return loss(args);
      };
      const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
      const analytic = dot(grads[i].dataSync(), v);
      const denom = Math.max(Math.abs(numeric), Math.abs(analytic), 1e-300);
      return { input: i, numeric, analytic, relError: Math.abs(numeric - analytic) / denom };
    });
  });
}
