// AdamW: Adam with decoupled weight decay (torch.optim.AdamW, 1.13): p ← p·(1 − lr·weight_decay)
// before the Adam step, instead of adding weight_decay·p to the gradient.
// Defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 (PyTorch's default), amsgrad false.
import { inject, injectable } from 'inversify';
import { TOKENS, type OptimizerOptions } from '../../di/tokens.js';
import { Adam } from './adam.js';

@injectable()
export class AdamW extends Adam {
  override readonly name = 'adamw';
  protected override readonly decoupled = true;

  constructor(@inject(TOKENS.OptimizerOptions) opts: OptimizerOptions) {
    super(opts, 0.01);
  }
}
