// Activation composites: functions of primitives, so their gradients come for free.
import type { Tensor } from '../tensor.js';
import { add } from '../ops/add.js';
import { erf } from '../ops/erf.js';
import { exp } from '../ops/exp.js';
import { log } from '../ops/log.js';
import { mul } from '../ops/mul.js';
import { pow } from '../ops/pow.js';
import { tanh } from '../ops/tanh.js';
import { sigmoid } from '../ops/sigmoid.js';
import { relu } from '../ops/relu.js';
import { abs } from '../ops/abs.js';
import { neg } from '../ops/neg.js';

/** GELU, exact form: x * Φ(x) = 0.5 x (1 + erf(x / √2)) (PyTorch's default). */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** GELU, tanh approximation (PyTorch's approximate='tanh'). */
export function geluTanh(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** Swish / SiLU: x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

/** Softplus: log(1 + e^x), computed stably as relu(x) + log(1 + e^-|x|). */
export function softplus(x: Tensor): Tensor {
  return add(relu(x), log(add(exp(neg(abs(x))), 1)));
}

/** x². */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}
