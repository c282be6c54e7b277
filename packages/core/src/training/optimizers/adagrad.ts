// Adagrad: torch.optim.Adagrad's update (1.13).
//   g ← g + weightDecay·p
//   clr ← lr / (1 + (t − 1)·lrDecay)
//   s ← s + g²           (s starts at initialAccumulatorValue)
//   p ← p − clr · g / (√s + eps)
// Defaults: lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10.
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { mul } from '../../ops/mul.js';
import { sqrt } from '../../ops/sqrt.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer } from '../optimizer.js';

const options = {
  lrDecay: { type: 'number', default: 0, min: 0, description: 'learning-rate decay per update' },
  weightDecay: { type: 'number', default: 0, min: 0, description: 'L2 penalty added to the gradient' },
  initialAccumulatorValue: {
    type: 'number',
    default: 0,
    min: 0,
    description: 'starting value of the squared-gradient sum',
  },
  eps: { type: 'number', default: 1e-10, min: 0, description: 'added to the denominator' },
} as const;
export type AdagradOptions = OptionsOf<typeof options>;

@injectable()
export class Adagrad extends SlotOptimizer {
  readonly name = 'adagrad';
  readonly elementwise = true;
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulator: number;
  readonly eps: number;

  constructor(@inject(TOKENS.OptimizerOptions) opts: AdagradOptions) {
    super();
    ({
      lrDecay: this.lrDecay,
      weightDecay: this.weightDecay,
      initialAccumulatorValue: this.initialAccumulator,
      eps: this.eps,
    } = opts);
  }

  /** The decayed learning rate lr / (1 + (t − 1)·lrDecay). */
  stepScalars(lr: number, t: number): Record<string, number> {
    return { clr: lr / (1 + (t - 1) * this.lrDecay) };
  }

  update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, { clr }: StepScalars) {
    const g = this.weightDecay !== 0 ? add(grad, mul(p, this.weightDecay)) : grad;
    const s = add(slots.sum ?? this.initialAccumulator, mul(g, g));
    return { param: sub(p, mul(div(g, add(sqrt(s), this.eps)), clr)), slots: { sum: s } };
  }
}

export const adagradPlugin = definePlugin({
  kind: 'optimizer',
  name: 'adagrad',
  description: 'Adagrad with learning-rate decay (torch.optim.Adagrad)',
  options,
  class: Adagrad,
});
