// PipelineSeam: the node that lets one pipeline stage run its part of the backward wave with the
// runtime's own `gradients`. A stage's gradients start not at a loss but at the gradients the next
// stages send back for its outputs; the seam turns those into a scalar the runtime can seed:
//   seam = Σᵢ sum(yᵢ · gᵢ)   so   ∂seam/∂yᵢ = gᵢ   (exactly: the product's gradient is gᵢ · 1)
// with each yᵢ an output port of the stage and gᵢ its gradient, fed as a graph input. The stage
// holding the loss seams the loss itself with g = 1/M, so each of M micro-batches sends back its
// share of the gradient of the batch's mean loss. Built by pipeline-plan.ts, never serialized.
import {
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  mul,
  reduceSum,
} from '@ganglion/core';

export interface PipelineSeamConfig {
  /** How many (y, g) pairs: ports y0..y{n-1} and g0..g{n-1}. */
  readonly ports: number;
}

export class PipelineSeam extends Layer<PipelineSeamConfig> {
  static override readonly kind = 'PipelineSeam';
  readonly inputs: readonly { name: string }[];

  constructor(config: PipelineSeamConfig) {
    super(config);
    const n = Array.from({ length: config.ports }, (_, i) => i);
    this.inputs = [...n.map((i) => ({ name: `y${i}` })), ...n.map((i) => ({ name: `g${i}` }))];
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    for (let i = 0; i < this.config.ports; i++) {
      const y = expectPort(`y${i}`, inputs[`y${i}`], 'float32');
      expectPort(`g${i}`, inputs[`g${i}`], 'float32', y.shape);
    }
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }

  forward(inputs: Readonly<Record<string, Tensor>>): Tensor {
    let total: Tensor | undefined;
    for (let i = 0; i < this.config.ports; i++) {
      const term = reduceSum(mul(inputs[`y${i}`], inputs[`g${i}`]));
      total = total ? add(total, term) : term;
    }
    return total!;
  }
}
