// Named activations, shared by the layers that take an `activation` option (Dense, ...).
import { type Tensor, gelu, geluTanh, relu, sigmoid, silu, tanh } from '@ganglion/core';

export type ActivationName = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'gelu-tanh' | 'silu';

const table: Record<ActivationName, (x: Tensor) => Tensor> = {
  linear: (x) => x,
  relu,
  tanh,
  sigmoid,
  gelu,
  'gelu-tanh': geluTanh,
  silu,
};

export function activate(name: ActivationName | undefined, x: Tensor): Tensor {
  return table[name ?? 'linear'](x);
}
