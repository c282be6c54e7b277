// Function transforms in the style of JAX: grad, valueAndGrad and vjp over functions of tensors.

import { fill } from '../creation.js';
import { tidy } from '../engine.js';
import { GradientError } from '../errors.js';
import { expand } from '../ops/expand.js';
import { scalar } from '../creation.js';
import { formatShape, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { Tape } from './tape.js';

function zerosLike(x: Tensor): Tensor {
  return expand(scalar(0, x.dtype, x.backend), x.shape);
}

/**
 * The value of `f(...xs)` and its vector-Jacobian product with `dy` (default: ones, for a
 * one-element output). Intermediates are freed; the value and gradients are returned.
 */
export function vjp(
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  dy?: Tensor,
): { value: Tensor; grads: Tensor[] } {
  return tidy(() => {
    const tape = new Tape().watch(...xs);
    const value = tape.run(() => f(...xs));
    let seed: Tensor;
    if (dy) {
      if (!sameShape(dy.shape, value.shape)) {
        throw new GradientError(
          `vjp: output gradient has shape ${formatShape(dy.shape)}, expected ${formatShape(value.shape)}`,
        );
      }
      seed = dy;
    } else {
      if (value.size !== 1) {
        throw new GradientError(
          `grad: the function returned shape ${formatShape(value.shape)}; grad needs a one-element output (pass an output gradient to vjp otherwise)`,
        );
      }
      seed = fill(value.shape, 1, value.dtype, value.backend);
    }
    const map = tape.backward([value], [seed]);
    const grads = xs.map((x) => map.get(x.id) ?? zerosLike(x));
    return { value, grads };
  });
}

/**
 * `valueAndGrad(f)(...xs)` returns `{ value, grads }` with `grads[i] = d f / d xs[i]`.
 *
 *   const { value, grads: [dw] } = valueAndGrad((w) => reduceSum(mul(w, w)))(w);
 */
export function valueAndGrad(f: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...xs) => vjp(f, xs);
}

/** `grad(f)(...xs)` returns the gradients of a one-element `f` with respect to each input. */
export function grad(f: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => Tensor[] {
  return (...xs) => {
    const { value, grads } = vjp(f, xs);
    value.dispose();
    return grads;
  };
}
