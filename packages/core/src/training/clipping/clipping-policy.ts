// The clipping-policy contract, and the global gradient norm every step reports.
import type { Tensor } from '../../tensor.js';
import { add } from '../../ops/add.js';
import { mul } from '../../ops/mul.js';
import { reduceSum } from '../../ops/reduce-sum.js';
import { sqrt } from '../../ops/sqrt.js';

export interface ClippingPolicy {
  readonly name: string;
  /**
   * Whether `clip` works element by element, given the global norm (clipping by value or by the
   * global norm; not by each tensor's own norm). A compiled step may then clip and update a large
   * parameter a block of rows at a time.
   */
  readonly elementwise?: boolean;
  /**
   * Clip the gradients. `globalNorm` is the L2 norm over all of them, computed once per step
   * (reported in every step event, and the input of global-norm clipping).
   */
  clip(grads: ReadonlyMap<string, Tensor>, globalNorm: Tensor): Map<string, Tensor>;
}

/** √(Σ over every gradient of Σ g²): torch.nn.utils.clip_grad_norm_'s total_norm (norm_type 2). */
export function globalNorm(grads: ReadonlyMap<string, Tensor>): Tensor {
  let total: Tensor | undefined;
  for (const g of grads.values()) {
    const s = reduceSum(mul(g, g));
    total = total ? add(total, s) : s;
  }
  if (!total) throw new RangeError('globalNorm: no gradients');
  return sqrt(total);
}

/** L2 norm of one tensor. */
export function tensorNorm(g: Tensor): Tensor {
  return sqrt(reduceSum(mul(g, g)));
}
