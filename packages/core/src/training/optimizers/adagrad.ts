// Adagrad: torch.optim.Adagrad's update (1.13).
//   g ← g + weight_decay·p
//   clr ← lr / (1 + (t − 1)·lr_decay)
//   s ← s + g²           (s starts at initial_accumulator_value)
//   p ← p − clr · g / (√s + eps)
// Defaults: lr_decay 0, weight_decay 0, initial_accumulator_value 0, eps 1e-10.
import { inject, injectable } from 'inversify';
import { TOKENS, type OptimizerOptions } from '../../di/tokens.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { mul } from '../../ops/mul.js';
import { sqrt } from '../../ops/sqrt.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer, numOption } from '../optimizer.js';

@injectable()
export class Adagrad extends SlotOptimizer {
  readonly name = 'adagrad';
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulator: number;
  readonly eps: number;

  constructor(@inject(TOKENS.OptimizerOptions) opts: OptimizerOptions) {
    super();
    this.lrDecay = numOption('Adagrad', opts, 'lr_decay', 0);
    this.weightDecay = numOption('Adagrad', opts, 'weight_decay', 0);
    this.initialAccumulator = numOption('Adagrad', opts, 'initial_accumulator_value', 0);
    this.eps = numOption('Adagrad', opts, 'eps', 1e-10);
  }

  /** The decayed learning rate lr / (1 + (t − 1)·lr_decay). */
  override stepScalars(lr: number, t: number): Record<string, number> {
    return { clr: lr / (1 + (t - 1) * this.lrDecay) };
  }

  protected update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, _lr: number, _t: number, { clr }: StepScalars) {
    const g = this.weightDecay !== 0 ? add(grad, mul(p, this.weightDecay)) : grad;
    const s = add(slots.sum ?? this.initialAccumulator, mul(g, g));
    return { param: sub(p, mul(div(g, add(sqrt(s), this.eps)), clr)), slots: { sum: s } };
  }
}
