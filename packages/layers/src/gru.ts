// GRU over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   (reset gate applied after the recurrent matmul)
//   h' = (1 - z) ⊙ n + z ⊙ h
// Parameters (torch.nn.GRU's weight_ih_l0, ...): weight_ih [3H, I], weight_hh [3H, H],
// bias_ih [3H], bias_hh [3H], gate blocks r, z, n. Initialized U(-1/√H, 1/√H).
// Ports: x [batch, time, I]; optional h0 [batch, H]. Outputs y [batch, time, H], h [batch, H].
// The cell itself is core's gruCell (shared with the ONNX importer).
import {
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type OnnxBuilder,
  type OnnxLowerable,
  type Tensor,
  type TensorSpec,
  onnxAttr,
  unrollGru,
} from '@ganglion/core';
import { initialState, lowerRecurrent, recurrentSignature, stackSteps } from './recurrent.js';

export interface GRUConfig {
  readonly units: number;
}

export class GRU extends Layer<GRUConfig> implements OnnxLowerable {
  static override readonly kind = 'GRU';
  readonly inputs = [{ name: 'x' }, { name: 'h0', optional: true }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return recurrentSignature(inputs, this.config.units, 3, ['h']);
  }

  forward(
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const h0 = initialState('h', inputs, ctx, inputs.x.shape[0], this.config.units);
    const { steps, h } = unrollGru(
      inputs.x,
      { weight_ih: p.weight_ih, weight_hh: p.weight_hh, bias_ih: p.bias_ih, bias_hh: p.bias_hh },
      h0,
    );
    return { outputs: { y: stackSteps(steps), h }, state: { h } };
  }

  /**
   * Native export: one ONNX `GRU` node (gate blocks reordered to ONNX's z, r, h by core's
   * toOnnxRecurrentWeights); `linear_before_reset = 1` applies the reset gate after the recurrent
   * matmul, as PyTorch does.
   */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const { y, states } = lowerRecurrent(b, 'gru', inputs, p, ctx, ['h'], { linear_before_reset: onnxAttr.int(1) });
    return { outputs: { y, h: states.h }, state: states };
  }
}
