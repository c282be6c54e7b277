// Dense: y = activation(x @ kernel + bias) over the last axis.
// Parameters: kernel [in, units] (PyTorch's Linear.weight transposed), bias [units].
import {
  type Initializer,
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
  matMul,
} from '@ganglion/core';
import { type ActivationName, activate } from './activation.js';

export interface DenseConfig {
  readonly units: number;
  readonly activation?: ActivationName;
  readonly useBias?: boolean;
  readonly kernelInit?: Initializer;
  readonly biasInit?: Initializer;
}

export class Dense extends Layer<DenseConfig> {
  static override readonly kind = 'Dense';
  readonly inputs = [{ name: 'x' }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    const inFeatures = lastDim('x', x);
    const { units } = this.config;
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape.slice(0, -1), units] }],
      params: [
        { name: 'kernel', shape: [inFeatures, units], init: this.config.kernelInit ?? { kind: 'glorot-uniform' } },
        ...(this.config.useBias === false
          ? []
          : [{ name: 'bias', shape: [units], init: this.config.biasInit ?? { kind: 'zeros' as const } }]),
      ],
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, { kernel, bias }: Readonly<Record<string, Tensor>>): Tensor {
    const z = matMul(x, kernel);
    return activate(this.config.activation, bias ? add(z, bias) : z);
  }
}
