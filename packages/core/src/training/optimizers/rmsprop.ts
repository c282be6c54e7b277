// RMSProp: torch.optim.RMSprop's update (1.13).
//   g ← g + weightDecay·p
//   s ← α·s + (1 − α)·g²
//   centered: a ← α·a + (1 − α)·g;  d ← √(s − a²) + eps   else d ← √s + eps
//   momentum > 0: buf ← momentum·buf + g/d;  p ← p − lr·buf     else p ← p − lr·g/d
// Defaults: alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false.
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
  alpha: { type: 'number', default: 0.99, min: 0, description: 'smoothing constant of the squared-gradient average' },
  eps: { type: 'number', default: 1e-8, min: 0, description: 'added to the denominator' },
  weightDecay: { type: 'number', default: 0, min: 0, description: 'L2 penalty added to the gradient' },
  momentum: { type: 'number', default: 0, min: 0, description: 'momentum factor' },
  centered: { type: 'boolean', default: false, description: 'normalize by an estimate of the gradient variance' },
} as const;
export type RMSPropOptions = OptionsOf<typeof options>;

@injectable()
export class RMSProp extends SlotOptimizer {
  readonly name = 'rmsprop';
  readonly elementwise = true;
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(@inject(TOKENS.OptimizerOptions) opts: RMSPropOptions) {
    super();
    ({
      alpha: this.alpha,
      eps: this.eps,
      weightDecay: this.weightDecay,
      momentum: this.momentum,
      centered: this.centered,
    } = opts);
  }

  stepScalars(lr: number): Record<string, number> {
    return { lr };
  }

  update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, { lr }: StepScalars) {
    const g = this.weightDecay !== 0 ? add(grad, mul(p, this.weightDecay)) : grad;
    const a = this.alpha;
    const s = slots.square_avg ? add(mul(slots.square_avg, a), mul(mul(g, g), 1 - a)) : mul(mul(g, g), 1 - a);
    const out: Record<string, Tensor> = { square_avg: s };
    let d: Tensor;
    if (this.centered) {
      const ga = slots.grad_avg ? add(mul(slots.grad_avg, a), mul(g, 1 - a)) : mul(g, 1 - a);
      out.grad_avg = ga;
      d = add(sqrt(sub(s, mul(ga, ga))), this.eps);
    } else {
      d = add(sqrt(s), this.eps);
    }
    if (this.momentum > 0) {
      const buf = slots.momentum_buffer ? add(mul(slots.momentum_buffer, this.momentum), div(g, d)) : div(g, d);
      out.momentum_buffer = buf;
      return { param: sub(p, mul(buf, lr)), slots: out };
    }
    return { param: sub(p, mul(div(g, d), lr)), slots: out };
  }
}

export const rmspropPlugin = definePlugin({
  kind: 'optimizer',
  name: 'rmsprop',
  description: 'RMSProp, optionally centered and with momentum (torch.optim.RMSprop)',
  options,
  class: RMSProp,
});
