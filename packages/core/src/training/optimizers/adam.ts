// Adam: torch.optim.Adam's update (1.13, non-capturable), with L2 weight decay added to the gradient.
//   g ← g + weight_decay·p
//   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²        (v̂max ← max(v̂max, v) with amsgrad)
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
// Defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false.
import { inject, injectable, unmanaged } from 'inversify';
import { TOKENS, type OptimizerOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { max } from '../../ops/max.js';
import { mul } from '../../ops/mul.js';
import { sqrt } from '../../ops/sqrt.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer, numOption } from '../optimizer.js';

@injectable()
export class Adam extends SlotOptimizer {
  readonly name: string = 'adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  /** AdamW decays the weights directly instead of adding weight_decay·p to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(@inject(TOKENS.OptimizerOptions) opts: OptimizerOptions, @unmanaged() defaultWeightDecay?: number) {
    super();
    const betas = (opts.betas as readonly number[] | undefined) ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2 || betas.some((b) => !(b >= 0 && b < 1))) {
      throw new ConfigError(`${new.target.name}: option "betas" must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
    }
    [this.beta1, this.beta2] = betas;
    this.eps = numOption(new.target.name, opts, 'eps', 1e-8);
    this.weightDecay = numOption(new.target.name, opts, 'weight_decay', defaultWeightDecay ?? 0);
    this.amsgrad = Boolean(opts.amsgrad ?? false);
  }

  /** lr / (1 − β1ᵗ), √(1 − β2ᵗ), and AdamW's 1 − lr·weight_decay: the numbers that change per step. */
  override stepScalars(lr: number, t: number): Record<string, number> {
    const s: Record<string, number> = { stepSize: lr / (1 - this.beta1 ** t), bias2: Math.sqrt(1 - this.beta2 ** t) };
    if (this.decoupled && this.weightDecay !== 0) s.decay = 1 - lr * this.weightDecay;
    return s;
  }

  protected update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, _lr: number, _t: number, s: StepScalars) {
    let param = p;
    let g = grad;
    if (this.weightDecay !== 0) {
      if (this.decoupled) param = mul(p, s.decay);
      else g = add(g, mul(p, this.weightDecay));
    }
    const m = slots.exp_avg ? add(mul(slots.exp_avg, this.beta1), mul(g, 1 - this.beta1)) : mul(g, 1 - this.beta1);
    const v = slots.exp_avg_sq ? add(mul(slots.exp_avg_sq, this.beta2), mul(mul(g, g), 1 - this.beta2)) : mul(mul(g, g), 1 - this.beta2);
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
