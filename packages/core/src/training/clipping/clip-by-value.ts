// Clip by value: every gradient element clamped to [-value, value]
// (torch.nn.utils.clip_grad_value_). Option: value (> 0).
import { inject, injectable } from 'inversify';
import { TOKENS, type ClippingOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import { clip } from '../../ops/clip.js';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

@injectable()
export class ClipByValue implements ClippingPolicy {
  readonly name = 'value';
  readonly value: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: ClippingOptions) {
    this.value = Number(opts.value);
    if (!(this.value > 0) || !Number.isFinite(this.value)) throw new ConfigError(`clip by value: "value" must be a finite number > 0, got ${String(opts.value)}`);
  }

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map([...grads].map(([k, g]) => [k, clip(g, -this.value, this.value)]));
  }
}
