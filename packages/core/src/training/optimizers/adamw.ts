// AdamW: Adam with decoupled weight decay (torch.optim.AdamW, 1.13): p ← p·(1 − lr·weightDecay)
// before the Adam step, instead of adding weightDecay·p to the gradient.
// Defaults: betas (0.9, 0.999), eps 1e-8, weightDecay 0.01 (PyTorch's default), amsgrad false.
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { definePlugin } from '../../di/plugin-registry.js';
import { Adam, type AdamOptions, adamOptions } from './adam.js';

@injectable()
export class AdamW extends Adam {
  override readonly name = 'adamw';
  protected override readonly decoupled = true;

  constructor(@inject(TOKENS.OptimizerOptions) opts: AdamOptions) {
    super(opts);
  }
}

export const adamwPlugin = definePlugin({
  kind: 'optimizer',
  name: 'adamw',
  description: 'Adam with decoupled weight decay (torch.optim.AdamW)',
  options: {
    ...adamOptions,
    weightDecay: {
      ...adamOptions.weightDecay,
      default: 0.01,
      description: 'decoupled decay: p ← p·(1 − lr·weightDecay)',
    },
  },
  class: AdamW,
});
