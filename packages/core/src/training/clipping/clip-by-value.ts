// Clip by value: every gradient element clamped to [-clipValue, clipValue]
// (torch.nn.utils.clip_grad_value_). Option: clipValue (> 0, PyTorch's clip_value).
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import { clip } from '../../ops/clip.js';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

const options = {
  clipValue: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    description: 'the largest absolute value of a gradient element',
  },
} as const;

@injectable()
export class ClipByValue implements ClippingPolicy {
  readonly name = 'value';
  readonly elementwise = true;
  readonly clipValue: number;

  constructor(@inject(TOKENS.ClippingOptions) opts: OptionsOf<typeof options>) {
    this.clipValue = opts.clipValue;
  }

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map([...grads].map(([k, g]) => [k, clip(g, -this.clipValue, this.clipValue)]));
  }
}

export const clipByValuePlugin = definePlugin({
  kind: 'clipping',
  name: 'value',
  description: 'clamp every gradient element to [-clipValue, clipValue] (torch.nn.utils.clip_grad_value_)',
  options,
  shorthand: 'clipValue',
  class: ClipByValue,
});
