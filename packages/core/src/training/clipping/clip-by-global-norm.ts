// Clip by global norm with torch.nn.utils.clip_grad_norm_'s semantics (norm_type 2):
//   coef = max_norm / (total_norm + 1e-6);  if coef < 1, every gradient ← gradient · coef.
// Option: maxNorm (> 0).
import { inject, injectable } from 'inversify';
import { TOKENS, type ClippingOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import { add } from '../../ops/add.js';
import { div } from '../../ops/div.js';
import { min } from '../../ops/min.js';
import { mul } from '../../ops/mul.js';
import { scalar } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

@injectable()
export class ClipByGlobalNorm implements ClippingPolicy {
  readonly name = 'global-norm';
  readonly maxNorm: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: ClippingOptions) {
    this.maxNorm = Number(opts.maxNorm);
    if (!(this.maxNorm > 0) || !Number.isFinite(this.maxNorm)) throw new ConfigError(`clip by global norm: "maxNorm" must be a finite number > 0, got ${String(opts.maxNorm)}`);
  }

  clip(grads: ReadonlyMap<string, Tensor>, globalNorm: Tensor): Map<string, Tensor> {
    const coef = min(div(scalar(this.maxNorm, 'float32', globalNorm.backend), add(globalNorm, 1e-6)), 1);
    return new Map([...grads].map(([k, g]) => [k, mul(g, coef)]));
  }
}
