// Clip each gradient tensor by its own L2 norm, the seed's rule: g ← g / max(1, ‖g‖ / c).
// A gradient whose norm is at most c (a zero gradient included) is unchanged. Option: maxNorm (c > 0).
import { inject, injectable } from 'inversify';
import { TOKENS, type ClippingOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import { div } from '../../ops/div.js';
import { max } from '../../ops/max.js';
import type { Tensor } from '../../tensor.js';
import { type ClippingPolicy, tensorNorm } from './clipping-policy.js';

@injectable()
export class ClipByNorm implements ClippingPolicy {
  readonly name = 'norm';
  readonly maxNorm: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: ClippingOptions) {
    this.maxNorm = Number(opts.maxNorm);
    if (!(this.maxNorm > 0) || !Number.isFinite(this.maxNorm)) throw new ConfigError(`clip by norm: "maxNorm" must be a finite number > 0, got ${String(opts.maxNorm)}`);
  }

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map([...grads].map(([k, g]) => [k, div(g, max(div(tensorNorm(g), this.maxNorm), 1))]));
  }
}
