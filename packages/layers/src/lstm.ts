// LSTM over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
//   c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
// Parameters (names and layouts of torch.nn.LSTM's weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0): weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], gate blocks in
// the order i, f, g, o. Initialized U(-1/√H, 1/√H) as PyTorch does.
// Ports: x [batch, time, I]; optional h0, c0 [batch, H]; optional mask [batch, time] (1 = keep,
// 0 = padding: the state holds and y is 0 there). Outputs y [batch, time, H], h, c [batch, H]
// (each sequence's state at its last valid step). Options `dropout` and `recurrentDropout`:
// variational dropout in training (recurrent.ts).
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
} from '@ganglion/core';
import {
  type RecurrentConfig,
  checkRecurrentConfig,
  initialState,
  lowerRecurrent,
  recurrentSignature,
  recurrentForward,
  variationalMasks,
  weightsOf,
} from './recurrent.js';

/** `new LSTM({ units: 64, dropout: 0.2, recurrentDropout: 0.2 })` */
export type LSTMConfig = RecurrentConfig;

export class LSTM extends Layer<LSTMConfig> implements OnnxLowerable {
  static override readonly kind = 'LSTM';
  readonly inputs = [
    { name: 'x' },
    { name: 'h0', optional: true },
    { name: 'c0', optional: true },
    { name: 'mask', optional: true },
  ];

  constructor(config: LSTMConfig) {
    super(config);
    checkRecurrentConfig('LSTM', config);
  }

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
    const { y, state: final } = recurrentForward('lstm', inputs.x, weightsOf(p), state, {
      mask: inputs.mask,
      dropout: variationalMasks(this.config, inputs.x, ctx),
    });
    return { outputs: { y, ...final }, state: final };
  }

  /**
   * Native export: one ONNX `LSTM` node (gate blocks reordered to ONNX's i, o, f, c by core's
   * toOnnxRecurrentWeights; a mask becomes sequence_lens, see lowerRecurrent).
   */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const initial = ['h', 'c'].map((s) => inputs[`${s}0`] ?? ctx.state?.[s]);
    const { ys, finals } = lowerRecurrent(
      b,
      'lstm',
      inputs.x,
      [{ weights: weightsOf(p), initial }],
      ['h', 'c'],
      inputs.mask,
    );
    return { outputs: { y: ys[0], ...finals[0] }, state: finals[0] };
  }
}
