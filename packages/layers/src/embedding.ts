// Embedding: a lookup table, y = weight[ids]. Parameter: weight [vocabSize, dim] (as PyTorch's).
// Its gradient is ScatterAdd (Gather's VJP), which runs on every backend, tfjs wasm included.
// With `outputWeight: true` the node also outputs its weight on a second port, `weight`, so a
// TiedHead can reuse it as the output projection (tied embeddings); the gradients arriving on both
// ports sum into the one parameter. Off by default: one output port, `y`, as before.
import {
  type Initializer,
  Layer,
  type LayerResult,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  expectPort,
  gather,
  reshape,
} from '@ganglion/core';

export interface EmbeddingConfig {
  readonly vocabSize: number;
  readonly dim: number;
  /** Default N(0, 1), as torch.nn.Embedding. */
  readonly init?: Initializer;
  /** Also output the table [vocabSize, dim] on port `weight` (for a TiedHead). Default false. */
  readonly outputWeight?: boolean;
}

export class Embedding extends Layer<EmbeddingConfig> {
  static override readonly kind = 'Embedding';
  readonly inputs = [{ name: 'ids' }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const ids = expectPort('ids', inputs.ids, 'int32');
    const { vocabSize, dim } = this.config;
    return {
      outputs: [
        { name: 'y', dtype: 'float32', shape: [...ids.shape, dim] },
        ...(this.config.outputWeight ? [{ name: 'weight', dtype: 'float32' as const, shape: [vocabSize, dim] }] : []),
      ],
      params: [{ name: 'weight', shape: [vocabSize, dim], init: this.config.init ?? { kind: 'normal', std: 1 } }],
    };
  }

  forward({ ids }: Readonly<Record<string, Tensor>>, { weight }: Readonly<Record<string, Tensor>>): LayerResult {
    const y = gather(weight, ids, 0);
    // An alias (Reshape), not the parameter itself: activations are the runtime's to free.
    return this.config.outputWeight ? { outputs: { y, weight: reshape(weight, weight.shape) } } : y;
  }
}
