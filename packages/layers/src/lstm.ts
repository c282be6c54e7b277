// LSTM over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
//   c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
// Parameters (names and layouts of torch.nn.LSTM's weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0): weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], gate blocks in
// the order i, f, g, o. Initialized U(-1/√H, 1/√H) as PyTorch does.
// Ports: x [batch, time, I]; optional h0, c0 [batch, H]. Outputs y [batch, time, H], h, c [batch, H].
// Streaming: when h0/c0 are not wired, the state carried from the previous wave is used.
// The cell itself is core's lstmCell (shared with the ONNX importer).
import {
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type OnnxBuilder,
  type OnnxLowerable,
  type Tensor,
  type TensorSpec,
  unrollLstm,
} from '@ganglion/core';
import { initialState, lowerRecurrent, recurrentSignature, stackSteps } from './recurrent.js';

export interface LSTMConfig {
  readonly units: number;
}

export class LSTM extends Layer<LSTMConfig> implements OnnxLowerable {
  static override readonly kind = 'LSTM';
  readonly inputs = [{ name: 'x' }, { name: 'h0', optional: true }, { name: 'c0', optional: true }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return recurrentSignature(inputs, this.config.units, 4, ['h', 'c']);
  }

  forward(
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const H = this.config.units;
    const batch = inputs.x.shape[0];
    const state = { h: initialState('h', inputs, ctx, batch, H), c: initialState('c', inputs, ctx, batch, H) };
    const { steps, h, c } = unrollLstm(
      inputs.x,
      { weight_ih: p.weight_ih, weight_hh: p.weight_hh, bias_ih: p.bias_ih, bias_hh: p.bias_hh },
      state,
    );
    return { outputs: { y: stackSteps(steps), h, c }, state: { h, c } };
  }

  /** Native export: one ONNX `LSTM` node (gate blocks reordered to ONNX's i, o, f, c by core's toOnnxRecurrentWeights). */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const { y, states } = lowerRecurrent(b, 'lstm', inputs, p, ctx, ['h', 'c']);
    return { outputs: { y, ...states }, state: states };
  }
}
