// The VJP shared by Max and Min: the gradient goes to the input that was chosen.
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { equal } from './equal.js';
import { add } from './add.js';
import { div } from './div.js';
import { mul } from './mul.js';
import type { VjpContext } from './primitive.js';
import { sumToShape } from './unbroadcast.js';

export function minMaxVjp({ inputs: [a, b], output, grad }: VjpContext<Record<string, never>>): Tensor[] {
  // NOTE: on ties the gradient is split evenly between a and b, as PyTorch's maximum/minimum do.
  const ma = cast(equal(a, output), grad.dtype);
  const mb = cast(equal(b, output), grad.dtype);
  const share = div(grad, add(ma, mb));
  return [sumToShape(mul(share, ma), a.shape), sumToShape(mul(share, mb), b.shape)];
}
