// Bidirectional: an LSTM or GRU run forward and backward over the sequence, the two directions'
// outputs merged ('concat': forward features then backward, as PyTorch's bidirectional=True;
// 'sum'). Mask-aware: the backward direction starts each sequence at its last valid step (PyTorch's
// packed sequences), padded steps output zeros in both directions.
// Parameters: the forward direction's under the wrapped layer's names (weight_ih, weight_hh,
// bias_ih, bias_hh) and the backward's with `_reverse` (PyTorch's weight_ih_l0_reverse, ...).
// Ports: x [batch, time, I]; optional mask [batch, time]. Both directions start from zeros (no
// initial state ports, no streaming: the backward direction needs the whole sequence).
// Outputs: y [batch, time, 2H] ('concat') or [batch, time, H] ('sum'); h (and c for an LSTM): the
// two final states merged the same way. `dropout` / `recurrentDropout` (variational, as in LSTM and
// GRU) apply per direction, each direction with its own masks.
import {
  AttributeError,
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type OnnxBuilder,
  type OnnxLowerable,
  type RecurrentCell,
  type Tensor,
  type TensorSpec,
  add,
  concat,
} from '@ganglion/core';
import { GRU_ONNX_ATTRS } from './gru.js';
import {
  type RecurrentConfig,
  checkRecurrentConfig,
  lowerRecurrent,
  recurrentSignature,
  recurrentForward,
  variationalMasks,
  weightsOf,
  zeroState,
} from './recurrent.js';

/** An LSTM's or GRU's config (units per direction, dropout rates) and the merge. */
export interface BidirectionalConfig extends RecurrentConfig {
  readonly cell: RecurrentCell;
  /** How the two directions' outputs are merged. Default 'concat'. */
  readonly merge?: 'concat' | 'sum';
}

const REVERSE = '_reverse';

/** `g.node('encoder', new Bidirectional({ cell: 'lstm', units: 32, merge: 'concat' }), { x, mask })` */
export class Bidirectional extends Layer<BidirectionalConfig> implements OnnxLowerable {
  static override readonly kind = 'Bidirectional';
  readonly inputs = [{ name: 'x' }, { name: 'mask', optional: true }];

  constructor(config: BidirectionalConfig) {
    super(config);
    if (config.cell !== 'lstm' && config.cell !== 'gru')
      throw new AttributeError(`Bidirectional: cell must be "lstm" or "gru", got ${JSON.stringify(config.cell)}`);
    if (config.merge !== undefined && config.merge !== 'concat' && config.merge !== 'sum')
      throw new AttributeError(`Bidirectional: merge must be "concat" or "sum", got ${JSON.stringify(config.merge)}`);
    checkRecurrentConfig('Bidirectional', config);
  }

  private get cell(): RecurrentCell {
    return this.config.cell;
  }

  private get states(): string[] {
    return this.cell === 'lstm' ? ['h', 'c'] : ['h'];
  }

  private get concat(): boolean {
    return (this.config.merge ?? 'concat') === 'concat';
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const H = this.config.units;
    const one = recurrentSignature(inputs, H, this.cell === 'lstm' ? 4 : 3, this.states);
    const width = this.concat ? 2 * H : H;
    return {
      outputs: one.outputs.map((o) => ({ ...o, shape: [...o.shape.slice(0, -1), width] })),
      params: [...one.params, ...one.params.map((p) => ({ ...p, name: `${p.name}${REVERSE}` }))],
    };
  }

  forward(
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const { x, mask } = inputs;
    const zero = zeroState(x, x.shape[0], this.config.units);
    const start = Object.fromEntries(this.states.map((s) => [s, zero]));
    const [forward, backward] = [false, true].map((reverse) =>
      recurrentForward(this.cell, x, weightsOf(p, reverse ? REVERSE : ''), start, {
        mask,
        reverse,
        dropout: variationalMasks(this.config, x, ctx),
      }),
    );
    return {
      outputs: {
        y: this.merge(forward.y, backward.y),
        ...Object.fromEntries(this.states.map((s) => [s, this.merge(forward.state[s], backward.state[s])])),
      },
    };
  }

  /** Native export: one ONNX `LSTM`/`GRU` node with direction = bidirectional (a mask as sequence_lens). */
  lowerOnnx(
    b: OnnxBuilder,
    inputs: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
  ): LayerResult {
    const { ys, finals } = lowerRecurrent(
      b,
      this.cell,
      inputs.x,
      [
        { weights: weightsOf(p), initial: [] },
        { weights: weightsOf(p, REVERSE), initial: [] },
      ],
      this.states,
      inputs.mask,
      this.cell === 'gru' ? GRU_ONNX_ATTRS : {},
    );
    return {
      outputs: {
        y: this.merge(ys[0], ys[1]),
        ...Object.fromEntries(this.states.map((s) => [s, this.merge(finals[0][s], finals[1][s])])),
      },
    };
  }

  private merge(a: Tensor, b: Tensor): Tensor {
    return this.concat ? concat([a, b], a.rank - 1) : add(a, b);
  }
}
