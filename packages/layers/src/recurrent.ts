// What LSTM, GRU and Bidirectional share besides the cells and their unroll (core's rnn-cells.ts,
// which also describes masks and reversal): the config checks, the signature, the initial state (an
// input port, else the state carried from the previous streaming wave, else zeros), drawing the
// variational dropout masks, and the native ONNX lowering as one ONNX `LSTM`/`GRU` node.
//
// Variational dropout (Gal & Ghahramani, 2016): in training, one mask per sequence on the inputs
// [batch, I] (`dropout`) and one on the recurrent state [batch, H] (`recurrentDropout`), drawn from
// the node's seeded stream (ctx.nextSeed) and reused at every time step; one mask for all gates,
// as Keras does. The recurrent mask drops h where it enters W_hh, not the state carried forward.
//
//   const { y, state } = recurrentForward('lstm', x, weightsOf(p), { h, c }, { mask, dropout });
import {
  AttributeError,
  type Dim,
  type LayerContext,
  type LayerSignature,
  type OnnxAttribute,
  type OnnxBuilder,
  type RecurrentCell,
  type RecurrentWeights,
  ShapeError,
  type Tensor,
  type TensorSpec,
  cast,
  concat,
  div,
  equal,
  expand,
  expectPort,
  greater,
  lastDim,
  matMul,
  mul,
  onnxAttr,
  randomUniform,
  reduceSum,
  reshape,
  scalar,
  slice,
  sub,
  toOnnxRecurrentWeights,
  transpose,
  unrollRecurrent,
  where,
} from '@ganglion/core';

/** What LSTMConfig and GRUConfig share. */
export interface RecurrentConfig {
  readonly units: number;
  /** Variational dropout rate on the inputs, in training: one [batch, I] mask per sequence. Default 0. */
  readonly dropout?: number;
  /** Variational dropout rate on the recurrent state h, in training: one [batch, H] mask per sequence. Default 0. */
  readonly recurrentDropout?: number;
}

/** Throw AttributeError unless the dropout rates are in [0, 1). */
export function checkRecurrentConfig(layer: string, config: RecurrentConfig): void {
  for (const key of ['dropout', 'recurrentDropout'] as const) {
    const rate = config[key];
    if (rate !== undefined && !(rate >= 0 && rate < 1))
      throw new AttributeError(`${layer}: ${key} must be in [0, 1), got ${rate}`);
  }
}

/**
 * An LSTM's (4 gate blocks, states h, c) or GRU's (3, h) signature: ports x [batch, time, I],
 * optional `<state>0` [batch, H] and optional mask [batch, time]; outputs y [batch, time, H] and
 * each state [batch, H]; PyTorch's parameters, initialized U(-1/√H, 1/√H) as PyTorch does.
 */
export function recurrentSignature(
  inputs: Readonly<Record<string, TensorSpec | undefined>>,
  H: number,
  gates: number,
  states: readonly string[],
): LayerSignature {
  const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
  const [batch, time] = x.shape;
  for (const s of states) if (inputs[`${s}0`]) expectPort(`${s}0`, inputs[`${s}0`], 'float32', [batch, H]);
  if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [batch, time]);
  const inputSize = lastDim('x', x);
  const k = 1 / Math.sqrt(H);
  const init = { kind: 'uniform', low: -k, high: k } as const;
  return {
    outputs: [
      { name: 'y', dtype: 'float32', shape: [batch, time, H] },
      ...states.map((name) => ({ name, dtype: 'float32' as const, shape: [batch, H] })),
    ],
    params: [
      { name: 'weight_ih', shape: [gates * H, inputSize], init },
      { name: 'weight_hh', shape: [gates * H, H], init },
      { name: 'bias_ih', shape: [gates * H], init },
      { name: 'bias_hh', shape: [gates * H], init },
    ],
  };
}

/** The parameters named `weight_ih<suffix>`, ... (suffix '_reverse': Bidirectional's backward direction). */
export function weightsOf(p: Readonly<Record<string, Tensor>>, suffix = ''): Required<RecurrentWeights> {
  return {
    weight_ih: p[`weight_ih${suffix}`],
    weight_hh: p[`weight_hh${suffix}`],
    bias_ih: p[`bias_ih${suffix}`],
    bias_hh: p[`bias_hh${suffix}`],
  };
}

/** The initial value of state `name`: its input port, else the carried state, else zeros. */
export function initialState(
  name: string,
  inputs: Readonly<Record<string, Tensor>>,
  ctx: LayerContext,
  batch: Dim,
  units: number,
): Tensor {
  const given = inputs[`${name}0`] ?? ctx.state?.[name];
  if (given) {
    if (given.shape[0] !== batch)
      throw new ShapeError(
        `state "${name}" has batch ${given.shape[0]}, but input "x" has batch ${batch}; call resetState() when the batch size changes`,
      );
    return given;
  }
  return zeroState(inputs.x, batch, units);
}

/** Zeros [batch, units]: Expand of a scalar, not a filled buffer, so it stays valid when the batch dim is symbolic (export). */
export function zeroState(x: Tensor, batch: Dim, units: number): Tensor {
  return expand(scalar(0, 'float32', x.backend), [batch, units]);
}

/** Stack per-step [batch, units] outputs into [batch, time, units]. */
function stackSteps(hs: readonly Tensor[]): Tensor {
  return concat(
    hs.map((h) => reshape(h, [h.shape[0], 1, h.shape[1]])),
    1,
  );
}

/** Variational dropout masks (already scaled by 1 / (1 - rate)), constant over the sequence. */
export interface DropoutMasks {
  /** [batch, I], multiplies every step's input. */
  readonly input?: Tensor;
  /** [batch, H], multiplies h where it enters W_hh, at every step. */
  readonly state?: Tensor;
}

/** Draw this wave's masks for `config`'s rates (none at inference): the input mask first, then the state's. */
export function variationalMasks(config: RecurrentConfig, x: Tensor, ctx: LayerContext): DropoutMasks {
  if (!ctx.training) return {};
  const batch = x.shape[0];
  if (typeof batch !== 'number' && (config.dropout || config.recurrentDropout))
    throw new ShapeError(`"${ctx.node}": dropout needs a concrete batch dim, got ${batch}`);
  const draw = (rate: number | undefined, width: number) =>
    rate
      ? div(cast(greater(randomUniform([batch as number, width], ctx.nextSeed()), rate), 'float32'), 1 - rate)
      : undefined;
  const input = draw(config.dropout, x.shape[2] as number);
  const state = draw(config.recurrentDropout, config.units);
  return { ...(input ? { input } : {}), ...(state ? { state } : {}) };
}

export interface UnrollOptions {
  /** [batch, time], 1 = keep, 0 = padding. */
  readonly mask?: Tensor;
  /** Run from the last step to the first (Bidirectional's backward direction); y stays in time order. */
  readonly reverse?: boolean;
  readonly dropout?: DropoutMasks;
}

/** An LSTM (state { h, c }) or GRU (state { h }) over x [batch, time, I] (core's unrollRecurrent): y [batch, time, H] and the final state. */
export function recurrentForward(
  cell: RecurrentCell,
  x: Tensor,
  w: Required<RecurrentWeights>,
  state: Readonly<Record<string, Tensor>>,
  o: UnrollOptions = {},
): { y: Tensor; state: Record<string, Tensor> } {
  const { steps, state: final } = unrollRecurrent(cell, x, w, state, {
    ...(o.mask ? { mask: o.mask } : {}),
    ...(o.reverse ? { reverse: true } : {}),
    ...(o.dropout?.input ? { inputMask: o.dropout.input } : {}),
    ...(o.dropout?.state ? { stateMask: o.dropout.state } : {}),
  });
  return { y: stackSteps(steps), state: final };
}

// ---- native ONNX lowering ----

/** One direction of an ONNX LSTM/GRU node: its weights and its initial states (ONNX order h, c; absent: zeros). */
export interface OnnxDirection {
  readonly weights: Required<RecurrentWeights>;
  readonly initial: readonly (Tensor | undefined)[];
}

/**
 * An LSTM/GRU over x [batch, time, I] as one ONNX node of its kind, 'forward' (one direction) or
 * 'bidirectional' (two: forward, then reverse), layout 0 (x transposed to [time, batch, I] around
 * it; time may stay symbolic). `states` names the states in ONNX's output order (h, then c).
 * With a mask, the valid steps of each sequence are first moved to its front (a one-hot
 * [batch, time, time] matrix P, so holes are skipped as in core's `unrollRecurrent`), the node runs with
 * sequence_lens = the number of valid steps, and P's transpose puts the outputs back, zeros at the
 * padded steps. Returns each direction's y [batch, time, H] and final states [batch, H].
 */
export function lowerRecurrent(
  b: OnnxBuilder,
  cell: RecurrentCell,
  x: Tensor,
  directions: readonly OnnxDirection[],
  states: readonly string[],
  mask: Tensor | undefined,
  attrs: Readonly<Record<string, OnnxAttribute>> = {},
): { ys: Tensor[]; finals: Record<string, Tensor>[] } {
  const [batch, time] = x.shape;
  const D = directions.length;
  const H = directions[0].weights.weight_hh.shape[1] as number;
  const onnx = directions.map((d) => toOnnxRecurrentWeights(cell, d.weights));
  const stack = (ts: Tensor[]) => (ts.length === 1 ? ts[0] : concat(ts, 0));
  const initial = states.map((_, i) => {
    if (directions.every((d) => !d.initial[i])) return undefined;
    return stack(directions.map((d) => reshape(d.initial[i] ?? zeroState(x, batch, H), [1, batch, H])));
  });
  const packing = mask && pack(b, mask);
  const xs = packing ? matMul(packing.P, x) : x;
  const f32 = 'float32' as const;
  const [yAll, ...finals] = b.op(
    cell === 'lstm' ? 'LSTM' : 'GRU',
    [
      transpose(xs, [1, 0, 2]),
      stack(onnx.map((w) => w.W)),
      stack(onnx.map((w) => w.R)),
      stack(onnx.map((w) => w.B)),
      packing?.lengths,
      ...initial,
    ],
    {
      hidden_size: onnxAttr.int(H),
      ...(D === 2 ? { direction: onnxAttr.string('bidirectional') } : {}),
      ...attrs,
    },
    [{ shape: [time, D, batch, H], dtype: f32 }, ...states.map(() => ({ shape: [D, batch, H], dtype: f32 }))],
  );
  const direction = (t: Tensor, d: number, axis: number, shape: Dim[]) =>
    reshape(D === 1 ? t : slice(t, [d], [d + 1], [axis]), shape);
  // A sequence with no valid step keeps its initial state (whatever onnxruntime leaves there).
  const nonEmpty = packing && reshape(greater(packing.lengthsF, 0), [batch, 1]);
  return {
    ys: directions.map((_, d) => {
      const y = transpose(direction(yAll, d, 1, [time, batch, H]), [1, 0, 2]);
      return packing ? matMul(transpose(packing.P, [0, 2, 1]), y) : y;
    }),
    finals: directions.map((dir, d) =>
      Object.fromEntries(
        states.map((name, i) => {
          const final = direction(finals[i], d, 0, [batch, H]);
          return [name, nonEmpty ? where(nonEmpty, final, dir.initial[i] ?? zeroState(x, batch, H)) : final];
        }),
      ),
    ),
  };
}

/**
 * For a mask [batch, time]: P [batch, time, time] with P[b, k, t] = 1 when step t is sequence b's
 * valid step number k (from 0), else 0; and the number of valid steps, int32 and float [batch].
 * Only ops the exporter's other lowerings already use (Range, no CumSum): the running count of
 * valid steps is mask · U, U [time, time] upper triangular ones.
 */
function pack(b: OnnxBuilder, mask: Tensor): { P: Tensor; lengths: Tensor; lengthsF: Tensor } {
  const [batch, time] = mask.shape;
  const int = (v: number) => scalar(v, 'int32', mask.backend);
  const [step] = b.op('Range', [int(0), b.dim(mask, 1), int(1)], {}, [{ shape: [time], dtype: 'int32' }]);
  const index = cast(step, 'float32'); // 0 .. time - 1
  const upper = sub(1, cast(greater(reshape(index, [time, 1]), reshape(index, [1, time])), 'float32'));
  const rank = sub(matMul(mask, upper), 1); // [batch, time]: the k of valid step t
  const P = mul(
    reshape(mask, [batch, 1, time]),
    cast(equal(reshape(rank, [batch, 1, time]), reshape(index, [1, time, 1])), 'float32'),
  );
  const lengthsF = reduceSum(mask, 1);
  return { P, lengths: cast(lengthsF, 'int32'), lengthsF };
}
