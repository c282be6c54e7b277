// Adam: torch.optim.Adam's update (1.13, non-capturable), with L2 weight decay added to the
// gradient; AdamW (adamw.ts) reuses it with decoupled decay.
//   g ← g + weightDecay·p
//   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²        (v̂max ← max(v̂max, v) with amsgrad)
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
// Defaults: betas (0.9, 0.999), eps 1e-8, weightDecay 0, amsgrad false.
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { max } from '../../ops/max.js';
import { mul } from '../../ops/mul.js';
import { sqrt } from '../../ops/sqrt.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer } from '../optimizer.js';

export const adamOptions = {
  betas: {
    type: 'numbers',
    length: 2,
    default: [0.9, 0.999],
    min: 0,
    max: 1,
    exclusiveMax: true,
    description: 'decay rates of the first and second moments',
  },
  eps: { type: 'number', default: 1e-8, min: 0, description: 'added to the denominator' },
  weightDecay: { type: 'number', default: 0, min: 0, description: 'L2 penalty added to the gradient' },
  amsgrad: { type: 'boolean', default: false, description: 'use the maximum of past second moments' },
} as const;
export type AdamOptions = OptionsOf<typeof adamOptions>;

@injectable()
export class Adam extends SlotOptimizer {
  readonly name: string = 'adam';
  readonly elementwise = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  /** AdamW decays the weights directly instead of adding weightDecay·p to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(@inject(TOKENS.OptimizerOptions) opts: AdamOptions) {
    super();
    [this.beta1, this.beta2] = opts.betas;
    ({ eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad } = opts);
  }

  /** lr / (1 − β1ᵗ), √(1 − β2ᵗ), and AdamW's 1 − lr·weightDecay: the numbers that change per step. */
  stepScalars(lr: number, t: number): Record<string, number> {
    const s: Record<string, number> = { stepSize: lr / (1 - this.beta1 ** t), bias2: Math.sqrt(1 - this.beta2 ** t) };
    if (this.decoupled && this.weightDecay !== 0) s.decay = 1 - lr * this.weightDecay;
    return s;
  }

  update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, s: StepScalars) {
    let param = p;
    let g = grad;
    if (this.weightDecay !== 0) {
      if (this.decoupled) param = mul(p, s.decay);
      else g = add(g, mul(p, this.weightDecay));
    }
    const m = slots.exp_avg ? add(mul(slots.exp_avg, this.beta1), mul(g, 1 - this.beta1)) : mul(g, 1 - this.beta1);
    const v = slots.exp_avg_sq
      ? add(mul(slots.exp_avg_sq, this.beta2), mul(mul(g, g), 1 - this.beta2))
      : mul(mul(g, g), 1 - this.beta2);
    const out: Record<string, Tensor> = { exp_avg: m, exp_avg_sq: v };
    let second = v;
    if (this.amsgrad) {
      second = slots.max_exp_avg_sq ? max(slots.max_exp_avg_sq, v) : v;
      out.max_exp_avg_sq = second;
    }
    const denom = add(div(sqrt(second), s.bias2), this.eps);
    return { param: sub(param, mul(div(m, denom), s.stepSize)), slots: out };
  }
}

export const adamPlugin = definePlugin({
  kind: 'optimizer',
  name: 'adam',
  description: 'Adam, weight decay added to the gradient (torch.optim.Adam)',
  options: adamOptions,
  class: Adam,
});
