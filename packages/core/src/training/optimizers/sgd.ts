// SGD with momentum, dampening, Nesterov and L2 weight decay: torch.optim.SGD's update (1.13).
//   g ← g + weightDecay·p
//   buf ← g (first step) | momentum·buf + (1 − dampening)·g
//   g ← g + momentum·buf (nesterov) | buf
//   p ← p − lr·g
// Defaults: momentum 0, dampening 0, weightDecay 0, nesterov false. lr comes from the trainer.
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { add } from '../../ops/add.js';
import { mul } from '../../ops/mul.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer } from '../optimizer.js';

const options = {
  momentum: { type: 'number', default: 0, min: 0, description: 'momentum factor' },
  dampening: { type: 'number', default: 0, min: 0, max: 1, description: 'dampening of the momentum' },
  weightDecay: { type: 'number', default: 0, min: 0, description: 'L2 penalty added to the gradient' },
  nesterov: { type: 'boolean', default: false, description: 'Nesterov momentum (needs momentum > 0, dampening 0)' },
} as const;
export type SGDOptions = OptionsOf<typeof options>;

@injectable()
export class SGD extends SlotOptimizer {
  readonly name = 'sgd';
  readonly elementwise = true;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(@inject(TOKENS.OptimizerOptions) opts: SGDOptions) {
    super();
    ({
      momentum: this.momentum,
      dampening: this.dampening,
      weightDecay: this.weightDecay,
      nesterov: this.nesterov,
    } = opts);
  }

  stepScalars(lr: number): Record<string, number> {
    return { lr };
  }

  update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, s: StepScalars) {
    let g = this.weightDecay !== 0 ? add(grad, mul(p, this.weightDecay)) : grad;
    const out: Record<string, Tensor> = {};
    if (this.momentum !== 0) {
      const buf = slots.momentum_buffer
        ? add(mul(slots.momentum_buffer, this.momentum), mul(g, 1 - this.dampening))
        : mul(g, 1);
      out.momentum_buffer = buf;
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    return { param: sub(p, mul(g, s.lr)), slots: out };
  }
}

export const sgdPlugin = definePlugin({
  kind: 'optimizer',
  name: 'sgd',
  description: 'stochastic gradient descent with momentum, Nesterov and weight decay (torch.optim.SGD)',
  options,
  check: (o) =>
    o.nesterov && (o.momentum <= 0 || o.dampening !== 0) ? 'nesterov needs momentum > 0 and dampening 0' : undefined,
  class: SGD,
});
