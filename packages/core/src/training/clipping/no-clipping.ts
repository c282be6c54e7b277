// No clipping: gradients pass unchanged.
import { injectable } from 'inversify';
import type { Tensor } from '../../tensor.js';
import type { ClippingPolicy } from './clipping-policy.js';

@injectable()
export class NoClipping implements ClippingPolicy {
  readonly name = 'none';

  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    return new Map(grads);
  }
}
