// TiedHead: an output projection that reuses another layer's weight, y = x @ weightᵀ (+ bias) —
// the tied input/output embeddings of GPT-2 and Press & Wolf (2017). Wire an Embedding built with
// `outputWeight: true` to its `weight` port:
//
//   const embed = g.node('embed', new Embedding({ vocabSize, dim, outputWeight: true }), ids);
//   const logits = g.node('head', new TiedHead(), { x: h, weight: embed.out('weight') });
//
// The backward wave then brings the embedding node two gradients (its `y` and its `weight` port),
// and its tape sums both into the one parameter.
// Ports: x [..., dim], weight [vocab, dim]. Output y [..., vocab].
// Parameter: bias [vocab] (zeros) only when `bias` is true (default false, as GPT-2's lm_head).
import {
  Layer,
  type LayerSignature,
  ShapeError,
  type Tensor,
  type TensorSpec,
  expectPort,
  lastDim,
} from '@ganglion/core';
import { linear } from './linear.js';

export interface TiedHeadConfig {
  /** Learn a bias [vocab]. Default false. */
  readonly bias?: boolean;
}

export class TiedHead extends Layer<TiedHeadConfig> {
  static override readonly kind = 'TiedHead';
  readonly inputs = [{ name: 'x' }, { name: 'weight' }];

  constructor(config: TiedHeadConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    const weight = expectPort('weight', inputs.weight, 'float32', [null, null]);
    const [vocab, dim] = weight.shape;
    if (typeof vocab !== 'number')
      throw new ShapeError(
        `input "weight" has shape [${weight.shape.join(', ')}]; its vocabulary dim must be concrete`,
      );
    if (dim !== lastDim('x', x))
      throw new ShapeError(`input "x" has ${lastDim('x', x)} features, but input "weight" rows have ${String(dim)}`);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape.slice(0, -1), vocab] }],
      params: this.config.bias ? [{ name: 'bias', shape: [vocab], init: { kind: 'zeros' } }] : [],
    };
  }

  forward({ x, weight }: Readonly<Record<string, Tensor>>, { bias }: Readonly<Record<string, Tensor>>): Tensor {
    return linear(x, weight, bias);
  }
}
