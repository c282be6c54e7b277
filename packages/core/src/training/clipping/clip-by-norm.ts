// Clip each gradient tensor by its own L2 norm: g ← g / max(1, ‖g‖ / maxNorm).
// A gradient whose norm is at most maxNorm (a zero gradient included) is unchanged. Option: maxNorm (> 0).
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { div } from '../../ops/div.js';
import { max } from '../../ops/max.js';
import type { Tensor } from '../../tensor.js';
import { type ClippingPolicy, tensorNorm } from './clipping-policy.js';

const options = {
  maxNorm: { type: 'number', min: 0, exclusiveMin: true, description: 'the largest L2 norm of each gradient tensor' },
} as const;

@injectable()
export class ClipByNorm implements ClippingPolicy {
  readonly name = 'norm';
  readonly maxNorm: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: OptionsOf<typeof options>) {
    this.maxNorm = opts.maxNorm;
  }

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map([...grads].map(([k, g]) => [k, div(g, max(div(tensorNorm(g), this.maxNorm), 1))]));
  }
}

export const clipByNormPlugin = definePlugin({
  kind: 'clipping',
  name: 'norm',
  description: 'scale each gradient tensor so its own L2 norm is at most maxNorm',
  options,
  shorthand: 'maxNorm',
  class: ClipByNorm,
});
