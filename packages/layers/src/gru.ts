// GRU over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   (reset gate applied after the recurrent matmul)
//   h' = (1 - z) ⊙ n + z ⊙ h
// Parameters (torch.nn.GRU's weight_ih_l0, ...): weight_ih [3H, I], weight_hh [3H, H],
// bias_ih [3H], bias_hh [3H], gate blocks r, z, n. Initialized U(-1/√H, 1/√H).
// Ports: x [batch, time, I]; optional h0 [batch, H]; optional mask [batch, time] (1 = keep,
// 0 = padding: the state holds and y is 0 there). Outputs y [batch, time, H], h [batch, H] (each
// sequence's state at its last valid step). Options `dropout` and `recurrentDropout`: variational
// dropout in training (recurrent.ts).
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

/** `new GRU({ units: 64, dropout: 0.2, recurrentDropout: 0.2 })` */
export type GRUConfig = RecurrentConfig;

/** ONNX GRU's reset gate after the recurrent matmul, as PyTorch does. */
export const GRU_ONNX_ATTRS = { linear_before_reset: onnxAttr.int(1) };

export class GRU extends Layer<GRUConfig> implements OnnxLowerable {
  static override readonly kind = 'GRU';
  readonly inputs = [{ name: 'x' }, { name: 'h0', optional: true }, { name: 'mask', optional: true }];

  constructor(config: GRUConfig) {
    super(config);
    checkRecurrentConfig('GRU', config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return recurrentSignature(inputs, this.config.units, 3, ['h']);
  }

  forward(
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const h0 = initialState('h', inputs, ctx, inputs.x.shape[0], this.config.units);
    const { y, state } = recurrentForward(
      'gru',
      inputs.x,
      weightsOf(p),
      { h: h0 },
      {
        mask: inputs.mask,
        dropout: variationalMasks(this.config, inputs.x, ctx),
      },
    );
    return { outputs: { y, h: state.h }, state };
  }

  /**
   * Native export: one ONNX `GRU` node (gate blocks reordered to ONNX's z, r, h by core's
   * toOnnxRecurrentWeights); `linear_before_reset = 1` applies the reset gate after the recurrent
   * matmul, as PyTorch does; a mask becomes sequence_lens (see lowerRecurrent).
   */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const initial = [inputs.h0 ?? ctx.state?.h];
    const { ys, finals } = lowerRecurrent(
      b,
      'gru',
      inputs.x,
      [{ weights: weightsOf(p), initial }],
      ['h'],
      inputs.mask,
      GRU_ONNX_ATTRS,
    );
    return { outputs: { y: ys[0], h: finals[0].h }, state: finals[0] };
  }
}
