// What LSTM and GRU share besides their cells (core's rnn-cells.ts): the signature, the initial state
// (an input port, else the state carried from the previous streaming wave, else zeros), stacking
// the steps, and the native ONNX lowering as one ONNX `LSTM`/`GRU` node.
import {
  type Dim,
  type LayerContext,
  type LayerSignature,
  type OnnxAttribute,
  type OnnxBuilder,
  type RecurrentCell,
  ShapeError,
  type Tensor,
  type TensorSpec,
  concat,
  expand,
  expectPort,
  lastDim,
  onnxAttr,
  reshape,
  scalar,
  toOnnxRecurrentWeights,
  transpose,
} from '@ganglion/core';

/**
 * An LSTM's (4 gate blocks, states h, c) or GRU's (3, h) signature: ports x [batch, time, I] and
 * optional `<state>0` [batch, H]; outputs y [batch, time, H] and each state [batch, H]; PyTorch's
 * parameters, initialized U(-1/√H, 1/√H) as PyTorch does.
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
  // Expand of a scalar, not a filled buffer: it stays valid when the batch dim is symbolic (export).
  return expand(scalar(0, 'float32', inputs.x.backend), [batch, units]);
}

/** Stack per-step [batch, units] outputs into [batch, time, units]. */
export function stackSteps(hs: readonly Tensor[]): Tensor {
  return concat(
    hs.map((h) => reshape(h, [h.shape[0], 1, h.shape[1]])),
    1,
  );
}

/**
 * An LSTM/GRU layer as one ONNX node of its kind (layout 0, so x is transposed to [time, batch, I]
 * around it; the time dim may stay symbolic). `states` are the layer's state names in ONNX's input
 * order (h, then c); an absent one (no port, no carried state) is left empty and ONNX starts from
 * zeros, as `forward` does. Returns y [batch, time, H] and each final state [batch, H].
 */
export function lowerRecurrent(
  b: OnnxBuilder,
  cell: RecurrentCell,
  inputs: Readonly<Record<string, Tensor>>,
  p: Readonly<Record<string, Tensor>>,
  ctx: LayerContext,
  states: readonly string[],
  attrs: Readonly<Record<string, OnnxAttribute>> = {},
): { y: Tensor; states: Record<string, Tensor> } {
  const x = inputs.x;
  const [batch, time] = x.shape;
  const H = p.weight_hh.shape[1] as number;
  const { W, R, B } = toOnnxRecurrentWeights(cell, {
    weight_ih: p.weight_ih,
    weight_hh: p.weight_hh,
    bias_ih: p.bias_ih,
    bias_hh: p.bias_hh,
  });
  const initial = states.map((name) => {
    const s = inputs[`${name}0`] ?? ctx.state?.[name];
    return s && reshape(s, [1, batch, H]);
  });
  const f32 = 'float32' as const;
  const [yAll, ...finals] = b.op(
    cell === 'lstm' ? 'LSTM' : 'GRU',
    [transpose(x, [1, 0, 2]), W, R, B, undefined, ...initial],
    { hidden_size: onnxAttr.int(H), ...attrs },
    [{ shape: [time, 1, batch, H], dtype: f32 }, ...states.map(() => ({ shape: [1, batch, H], dtype: f32 }))],
  );
  return {
    y: transpose(reshape(yAll, [time, batch, H]), [1, 0, 2]),
    states: Object.fromEntries(states.map((name, i) => [name, reshape(finals[i], [batch, H])])),
  };
}
