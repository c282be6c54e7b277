// The LSTM and GRU cells and their unroll, written once: the layers' forward (LSTM, GRU,
// Bidirectional) and the ONNX importer (ONNX LSTM/GRU nodes run with core ops) both call
// unrollRecurrent; the layers' native ONNX lowering and the importer convert parameters between
// Ganglion's layout and ONNX's with the functions at the end.
// Ganglion's layout is PyTorch's: weight_ih [G·H, I], weight_hh [G·H, H], bias_ih, bias_hh [G·H],
// gate blocks i, f, g, o (LSTM) and r, z, n (GRU). ONNX's LSTM/GRU take W [1, G·H, I],
// R [1, G·H, H], B [1, 2·G·H] (W's bias then R's), gate blocks i, o, f, c and z, r, h.
//
// Masks: `mask` [batch, time], 1 = a real step, 0 = padding. A padded step leaves the state as it
// was and outputs zeros, so the final state is each sequence's state at its last real step, and a
// reversed run starts each sequence at its last real step: PyTorch's packed sequences, ONNX's
// sequence_lens, when the mask is a prefix of ones; a hole inside a sequence is skipped.
// Variational dropout (Gal & Ghahramani): `inputMask` [batch, I] multiplies every step's input,
// `stateMask` [batch, H] multiplies h where it enters W_hh (not the state carried forward).
//
//   const { steps, state } = unrollRecurrent('lstm', x, params, { h: h0, c: c0 }); // x [batch, time, I]
import { ShapeError } from '../errors.js';
import { tensor } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { add } from '../ops/add.js';
import { concat } from '../ops/concat.js';
import { gather } from '../ops/gather.js';
import { matMul } from '../ops/mat-mul.js';
import { mul } from '../ops/mul.js';
import { reshape } from '../ops/reshape.js';
import { sigmoid } from '../ops/sigmoid.js';
import { slice } from '../ops/slice.js';
import { sub } from '../ops/sub.js';
import { tanh } from '../ops/tanh.js';
import { transpose } from '../ops/transpose.js';

/** An LSTM's or GRU's parameters in Ganglion's (PyTorch's) layout and names. */
export interface RecurrentWeights {
  readonly weight_ih: Tensor;
  readonly weight_hh: Tensor;
  readonly bias_ih?: Tensor;
  readonly bias_hh?: Tensor;
}

export interface UnrollOptions {
  /** The time axis of x: 1 for [batch, time, I] (Ganglion's layers), 0 for [time, batch, I] (ONNX). */
  readonly timeAxis?: 0 | 1;
  /** [batch, time] (whatever the time axis of x), 1 = a real step, 0 = padding. */
  readonly mask?: Tensor;
  /** Run from the last step to the first (a backward direction); the steps stay in time order. */
  readonly reverse?: boolean;
  /** Variational dropout on the input, [batch, I], already scaled by 1 / (1 - rate). */
  readonly inputMask?: Tensor;
  /** Variational dropout on h where it enters W_hh, [batch, H], already scaled. */
  readonly stateMask?: Tensor;
  /** GRU only: PyTorch's form (true, the default) or ONNX's default (false); see gruCell. */
  readonly linearBeforeReset?: boolean;
}

/** Columns [k·H, (k+1)·H) of a [batch, G·H] tensor: gate block k. */
function gate(z: Tensor, k: number, H: number): Tensor {
  return slice(z, [k * H], [(k + 1) * H], [-1]);
}

/** x·Wᵀ + bias over every time step at once, and its slice at step t as [batch, G·H]. */
function inputProjection(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  timeAxis: 0 | 1,
  what: string,
): { T: number; at: (t: number) => Tensor } {
  const T = x.shape[timeAxis];
  if (typeof T !== 'number') throw new ShapeError(`${what}: the time dim must be concrete to unroll, got ${T}`);
  const xw = matMul(x, transpose(w));
  const xz = bias ? add(xw, bias) : xw;
  const batch = x.shape[1 - timeAxis];
  const width = xz.shape[2];
  return { T, at: (t) => reshape(slice(xz, [t], [t + 1], [timeAxis]), [batch, width]) };
}

/**
 * One LSTM step: `xz` = x_t·W_ihᵀ + b_ih + b_hh [batch, 4H], `whhT` = W_hhᵀ [H, 4H].
 *   i, f, o = σ(·), g = tanh(·) of the blocks of z = xz + h·W_hhᵀ;  c' = f⊙c + i⊙g;  h' = o⊙tanh(c')
 */
export function lstmCell(xz: Tensor, h: Tensor, c: Tensor, whhT: Tensor): { h: Tensor; c: Tensor } {
  const H = whhT.shape[0] as number;
  const z = add(xz, matMul(h, whhT));
  const i = sigmoid(gate(z, 0, H));
  const f = sigmoid(gate(z, 1, H));
  const g = tanh(gate(z, 2, H));
  const o = sigmoid(gate(z, 3, H));
  const cNext = add(mul(f, c), mul(i, g));
  return { h: mul(o, tanh(cNext)), c: cNext };
}

/**
 * One GRU step: `xz` = x_t·W_ihᵀ + b_ih [batch, 3H], `whhT` = W_hhᵀ [H, 3H], `bhh` = b_hh.
 *   r, z = σ(xz + h·W_hhᵀ + b_hh) (their blocks);  h' = (1 - z)⊙n + z⊙h, with
 *   n = tanh(xz_n + r⊙(h·W_hnᵀ + b_hn)) (PyTorch; ONNX linear_before_reset = 1), or
 *   n = tanh(xz_n + (r⊙h)·W_hnᵀ + b_hn) (`linearBeforeReset` false: ONNX's default).
 * `carry` is the h of z⊙h (default h): the undropped state when h is a dropped copy.
 */
export function gruCell(
  xz: Tensor,
  h: Tensor,
  whhT: Tensor,
  bhh: Tensor | undefined,
  linearBeforeReset = true,
  carry: Tensor = h,
): Tensor {
  const H = whhT.shape[0] as number;
  const withBias = (t: Tensor, from: number, to: number) =>
    bhh ? add(t, from === 0 && to === 3 * H ? bhh : slice(bhh, [from], [to])) : t;
  // Linear before reset: one product h·W_hhᵀ + b_hh serves all three blocks; otherwise n's waits for r.
  const blocks = linearBeforeReset ? 3 : 2;
  const hz = withBias(matMul(h, linearBeforeReset ? whhT : slice(whhT, [0], [2 * H], [1])), 0, blocks * H);
  const r = sigmoid(add(gate(xz, 0, H), gate(hz, 0, H)));
  const z = sigmoid(add(gate(xz, 1, H), gate(hz, 1, H)));
  const n = tanh(
    add(
      gate(xz, 2, H),
      linearBeforeReset
        ? mul(r, gate(hz, 2, H))
        : withBias(matMul(mul(r, h), slice(whhT, [2 * H], [3 * H], [1])), 2 * H, 3 * H),
    ),
  );
  return add(mul(sub(1, z), n), mul(z, carry));
}

/**
 * An LSTM (state { h, c }) or GRU (state { h }) over x from `state` [batch, H] each: every step's h
 * [batch, H] in time order (`steps`; zeros at padded steps) and the final state.
 */
export function unrollRecurrent(
  cell: RecurrentCell,
  x: Tensor,
  w: RecurrentWeights,
  state: Readonly<Record<string, Tensor>>,
  o: UnrollOptions = {},
): { steps: Tensor[]; state: Record<string, Tensor> } {
  const timeAxis = o.timeAxis ?? 1;
  const xd = o.inputMask
    ? mul(x, reshape(o.inputMask, timeAxis === 1 ? [x.shape[0], 1, x.shape[2]] : [1, x.shape[1], x.shape[2]]))
    : x;
  // One input projection over every time step; an LSTM folds both biases into it.
  const lstmBias = w.bias_ih && w.bias_hh ? add(w.bias_ih, w.bias_hh) : (w.bias_ih ?? w.bias_hh);
  const bias = cell === 'lstm' ? lstmBias : w.bias_ih;
  const xz = inputProjection(xd, w.weight_ih, bias, timeAxis, cell.toUpperCase());
  const whhT = transpose(w.weight_hh);
  const padding = o.mask && { keep: o.mask, held: sub(1, o.mask) };
  let s: Record<string, Tensor> = { ...state };
  const steps = new Array<Tensor>(xz.T);
  for (let k = 0; k < xz.T; k++) {
    const t = o.reverse ? xz.T - 1 - k : k;
    const hIn = o.stateMask ? mul(s.h, o.stateMask) : s.h;
    const next =
      cell === 'lstm'
        ? lstmCell(xz.at(t), hIn, s.c, whhT)
        : { h: gruCell(xz.at(t), hIn, whhT, w.bias_hh, o.linearBeforeReset ?? true, s.h) };
    if (!padding) {
      s = next;
      steps[t] = next.h;
      continue;
    }
    // m ∈ {0, 1}: m·new + (1 - m)·old is exactly one of them, and differentiable in both.
    const m = slice(padding.keep, [t], [t + 1], [1]);
    const held = slice(padding.held, [t], [t + 1], [1]);
    s = Object.fromEntries(Object.entries(next).map(([key, v]) => [key, add(mul(m, v), mul(held, s[key]))]));
    steps[t] = mul(m, next.h);
  }
  return { steps, state: s };
}

// ---- Ganglion's layout <-> ONNX's ----

export type RecurrentCell = 'lstm' | 'gru';

/** ONNX's gate block k is Ganglion's block ONNX_GATES[cell][k] (i, o, f, c <- i, f, g, o; z, r, h <- r, z, n). */
const ONNX_GATES: Readonly<Record<RecurrentCell, readonly number[]>> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2] };

/** The rows of a [G·H, ...] tensor with its gate blocks in `order` (block k of the result is block order[k]). */
function reorderGates(w: Tensor, order: readonly number[], H: number): Tensor {
  const rows = order.flatMap((k) => Array.from({ length: H }, (_, j) => k * H + j));
  return gather(w, tensor(rows, [rows.length], 'int32', w.backend), 0);
}

/** The weights of ONNX `LSTM`/`GRU` (W [1, G·H, I], R [1, G·H, H], B [1, 2·G·H]) from Ganglion's; one Gather of rows each. */
export function toOnnxRecurrentWeights(
  cell: RecurrentCell,
  w: Required<RecurrentWeights>,
): { W: Tensor; R: Tensor; B: Tensor } {
  const order = ONNX_GATES[cell];
  const G = order.length;
  const [GH, inputSize] = w.weight_ih.shape as number[];
  const H = GH / G;
  const blocks = (t: Tensor) => reorderGates(t, order, H);
  return {
    W: reshape(blocks(w.weight_ih), [1, GH, inputSize]),
    R: reshape(blocks(w.weight_hh), [1, GH, H]),
    B: reshape(concat([blocks(w.bias_ih), blocks(w.bias_hh)], 0), [1, 2 * GH]),
  };
}

/** Ganglion's weights from ONNX `LSTM`/`GRU`'s W, R and (optional) B, forward direction. */
export function fromOnnxRecurrentWeights(
  cell: RecurrentCell,
  hiddenSize: number,
  W: Tensor,
  R: Tensor,
  B?: Tensor,
): RecurrentWeights {
  const order = ONNX_GATES[cell];
  const inverse = order.map((_, k) => order.indexOf(k));
  const GH = order.length * hiddenSize;
  const blocks = (t: Tensor) => reorderGates(t, inverse, hiddenSize);
  const b = B && reshape(B, [2 * GH]);
  return {
    weight_ih: blocks(reshape(W, [GH, W.shape[2]])),
    weight_hh: blocks(reshape(R, [GH, hiddenSize])),
    ...(b ? { bias_ih: blocks(slice(b, [0], [GH])), bias_hh: blocks(slice(b, [GH], [2 * GH])) } : {}),
  };
}
