// SGD with momentum, dampening, Nesterov and L2 weight decay: torch.optim.SGD's update (1.13).
//   g ← g + weight_decay·p
//   buf ← g (first step) | momentum·buf + (1 − dampening)·g
//   g ← g + momentum·buf (nesterov) | buf
//   p ← p − lr·g
// Defaults: momentum 0, dampening 0, weight_decay 0, nesterov false. lr comes from the trainer.
import { inject, injectable } from 'inversify';
import { TOKENS, type OptimizerOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import { add } from '../../ops/add.js';
import { mul } from '../../ops/mul.js';
import { sub } from '../../ops/sub.js';
import type { Tensor } from '../../tensor.js';
import { type StepScalars, SlotOptimizer, numOption } from '../optimizer.js';

@injectable()
export class SGD extends SlotOptimizer {
  readonly name = 'sgd';
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(@inject(TOKENS.OptimizerOptions) opts: OptimizerOptions) {
    super();
    this.momentum = numOption('SGD', opts, 'momentum', 0);
    this.dampening = numOption('SGD', opts, 'dampening', 0);
    this.weightDecay = numOption('SGD', opts, 'weight_decay', 0);
    this.nesterov = Boolean(opts.nesterov ?? false);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new ConfigError('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
  }

  override stepScalars(lr: number): Record<string, number> {
    return { lr };
  }

  protected update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, _lr: number, _t: number, s: StepScalars) {
    let g = this.weightDecay !== 0 ? add(grad, mul(p, this.weightDecay)) : grad;
    const out: Record<string, Tensor> = {};
    if (this.momentum !== 0) {
      const buf = slots.momentum_buffer ? add(mul(slots.momentum_buffer, this.momentum), mul(g, 1 - this.dampening)) : mul(g, 1);
      out.momentum_buffer = buf;
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    return { param: sub(p, mul(g, s.lr)), slots: out };
  }
}
