// No clipping: gradients pass unchanged.
import { injectable } from 'inversify';
import { definePlugin } from '../../di/plugin-registry.js';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

@injectable()
export class NoClipping implements ClippingPolicy {
  readonly name = 'none';
  readonly elementwise = true;

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map(grads);
  }
}

export const noClippingPlugin = definePlugin({
  kind: 'clipping',
  name: 'none',
  description: 'gradients pass unchanged',
  options: {},
  class: NoClipping,
});
