// Embedding: a lookup table, y = weight[ids]. Parameter: weight [vocabSize, dim] (as PyTorch's).
// Its gradient is ScatterAdd (Gather's VJP), which runs on every backend, tfjs wasm included.
import { type Initializer, Layer, type LayerSignature, type Tensor, type TensorSpec, expectPort, gather } from '@ganglion/core';

export interface EmbeddingConfig {
  readonly vocabSize: number;
  readonly dim: number;
  /** Default N(0, 1), as torch.nn.Embedding. */
  readonly init?: Initializer;
}

export class Embedding extends Layer<EmbeddingConfig> {
  static override readonly kind = 'Embedding';
  readonly inputs = [{ name: 'ids' }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const ids = expectPort('ids', inputs.ids, 'int32');
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...ids.shape, this.config.dim] }],
      params: [{ name: 'weight', shape: [this.config.vocabSize, this.config.dim], init: this.config.init ?? { kind: 'normal', std: 1 } }],
    };
  }

  forward({ ids }: Readonly<Record<string, Tensor>>, { weight }: Readonly<Record<string, Tensor>>): Tensor {
    return gather(weight, ids, 0);
  }
}
