// RMSProp: torch.optim.RMSprop's update (1.13).
//   g ← g + weight_decay·p
//   s ← α·s + (1 − α)·g²
//   centered: a ← α·a + (1 − α)·g;  d ← √(s − a²) + eps   else d ← √s + eps
//   momentum > 0: buf ← momentum·buf + g/d;  p ← p − lr·buf     else p ← p − lr·g/d
// Defaults: alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, centered false.
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
export class RMSProp extends SlotOptimizer {
  readonly name = 'rmsprop';
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(@inject(TOKENS.OptimizerOptions) opts: OptimizerOptions) {
    super();
    this.alpha = numOption('RMSProp', opts, 'alpha', 0.99);
    this.eps = numOption('RMSProp', opts, 'eps', 1e-8);
    this.weightDecay = numOption('RMSProp', opts, 'weight_decay', 0);
    this.momentum = numOption('RMSProp', opts, 'momentum', 0);
    this.centered = Boolean(opts.centered ?? false);
  }

  override stepScalars(lr: number): Record<string, number> {
    return { lr };
  }

  protected update(p: Tensor, grad: Tensor, slots: Readonly<Record<string, Tensor>>, _lr: number, _t: number, { lr }: StepScalars) {
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
