// What LSTM and GRU share: port checks, the initial state (an input port, else the state carried
// from the previous streaming wave, else zeros), and time-step slicing.
import { type Dim, type LayerContext, ShapeError, type Tensor, type TensorSpec, concat, expand, expectPort, lastDim, reshape, scalar, slice } from '@ganglion/core';

export function recurrentShapes(inputs: Readonly<Record<string, TensorSpec | undefined>>, units: number, stateNames: readonly string[]): { batch: Dim; time: Dim; inputSize: number } {
  const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
  const [batch, time] = x.shape;
  for (const s of stateNames) if (inputs[s]) expectPort(s, inputs[s], 'float32', [batch, units]);
  return { batch, time, inputSize: lastDim('x', x) };
}

/** The initial value of state `name`: its input port, else the carried state, else zeros. */
export function initialState(name: string, inputs: Readonly<Record<string, Tensor>>, ctx: LayerContext, batch: Dim, units: number): Tensor {
  const given = inputs[`${name}0`] ?? ctx.state?.[name];
  if (given) {
    if (given.shape[0] !== batch) throw new ShapeError(`state "${name}" has batch ${given.shape[0]}, but input "x" has batch ${batch}; call resetState() when the batch size changes`);
    return given;
  }
  // Expand of a scalar, not a filled buffer: it stays valid when the batch dim is symbolic (export).
  return expand(scalar(0, 'float32', inputs.x.backend), [batch, units]);
}

/** x[:, t, :] as [batch, features]. */
export function stepOf(x: Tensor, t: number): Tensor {
  const [batch, , features] = x.shape;
  return reshape(slice(x, [t], [t + 1], [1]), [batch, features]);
}

/** Stack per-step [batch, units] outputs into [batch, time, units]. */
export function stackSteps(hs: readonly Tensor[]): Tensor {
  return concat(hs.map((h) => reshape(h, [h.shape[0], 1, h.shape[1]])), 1);
}

/** Columns [k*units, (k+1)*units) of a [.., n*units] tensor: one gate. */
export function gate(z: Tensor, k: number, units: number): Tensor {
  return slice(z, [k * units], [(k + 1) * units], [-1]);
}
