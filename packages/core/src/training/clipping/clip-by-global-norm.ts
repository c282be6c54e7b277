// Clip by global norm with torch.nn.utils.clip_grad_norm_'s semantics (norm_type 2):
//   coef = maxNorm / (total_norm + 1e-6);  if coef < 1, every gradient ← gradient · coef.
// Option: maxNorm (> 0, PyTorch's max_norm).
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { min } from '../../ops/min.js';
import { mul } from '../../ops/mul.js';
import { scalar } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

const options = {
  maxNorm: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    description: 'the largest global L2 norm of all gradients together',
  },
} as const;

@injectable()
export class ClipByGlobalNorm implements ClippingPolicy {
  readonly name = 'global-norm';
  readonly elementwise = true;
  readonly maxNorm: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: OptionsOf<typeof options>) {
    this.maxNorm = opts.maxNorm;
  }

  clip(grads: ReadonlyMap<string, Tensor>, globalNorm: Tensor): Map<string, Tensor> {
    const coef = min(div(scalar(this.maxNorm, 'float32', globalNorm.backend), add(globalNorm, 1e-6)), 1);
    return new Map([...grads].map(([k, g]) => [k, mul(g, coef)]));
  }
}

export const clipByGlobalNormPlugin = definePlugin({
  kind: 'clipping',
  name: 'global-norm',
  description:
    'scale all gradients together so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_)',
  options,
  shorthand: 'maxNorm',
  class: ClipByGlobalNorm,
});
