// LSTM over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
//   c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
// Parameters (names and layouts of torch.nn.LSTM's weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0): weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], gate blocks in
// the order i, f, g, o. Initialized U(-1/√H, 1/√H) as PyTorch does.
// Ports: x [batch, time, I]; optional h0, c0 [batch, H]. Outputs y [batch, time, H], h, c [batch, H].
// Streaming: when h0/c0 are not wired, the state carried from the previous wave is used.
import { Layer, ShapeError, type LayerContext, type LayerResult, type LayerSignature, type OnnxBuilder, type OnnxLowerable, type Tensor, type TensorSpec, add, concat, gather, matMul, mul, onnxAttr, reshape, sigmoid, tensor, tanh, transpose } from '@ganglion/core';
import { gate, initialState, recurrentShapes, stackSteps, stepOf } from './recurrent.js';

export interface LSTMConfig {
  readonly units: number;
}

export class LSTM extends Layer<LSTMConfig> implements OnnxLowerable {
  static override readonly kind = 'LSTM';
  readonly inputs = [{ name: 'x' }, { name: 'h0', optional: true }, { name: 'c0', optional: true }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const H = this.config.units;
    const { batch, time, inputSize } = recurrentShapes(inputs, H, ['h0', 'c0']);
    const k = 1 / Math.sqrt(H);
    const init = { kind: 'uniform', low: -k, high: k } as const;
    return {
      outputs: [
        { name: 'y', dtype: 'float32', shape: [batch, time, H] },
        { name: 'h', dtype: 'float32', shape: [batch, H] },
        { name: 'c', dtype: 'float32', shape: [batch, H] },
      ],
      params: [
        { name: 'weight_ih', shape: [4 * H, inputSize], init },
        { name: 'weight_hh', shape: [4 * H, H], init },
        { name: 'bias_ih', shape: [4 * H], init },
        { name: 'bias_hh', shape: [4 * H], init },
      ],
    };
  }

  forward(inputs: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult {
    const H = this.config.units;
    const x = inputs.x;
    const [batch, time] = x.shape;
    if (typeof time !== 'number') throw new ShapeError(`${this.kind}: the time dim must be concrete to unroll, got ${time}`);
    // One big input projection over all time steps, both biases folded in.
    const xz = add(matMul(x, transpose(p.weight_ih)), add(p.bias_ih, p.bias_hh));
    const whh = transpose(p.weight_hh);
    let h = initialState('h', inputs, ctx, batch, H);
    let c = initialState('c', inputs, ctx, batch, H);
    const hs: Tensor[] = [];
    for (let t = 0; t < time; t++) {
      const z = add(stepOf(xz, t), matMul(h, whh));
      const i = sigmoid(gate(z, 0, H));
      const f = sigmoid(gate(z, 1, H));
      const g = tanh(gate(z, 2, H));
      const o = sigmoid(gate(z, 3, H));
      c = add(mul(f, c), mul(i, g));
      h = mul(o, tanh(c));
      hs.push(h);
    }
    return { outputs: { y: stackSteps(hs), h, c }, state: { h, c } };
  }

  /**
   * Native export: one ONNX `LSTM` node (layout 0, so x is transposed to [time, batch, I] around
   * it). ONNX orders the gate blocks i, o, f, c where PyTorch has i, f, g, o; W = [1, 4H, I],
   * R = [1, 4H, H], B = [bias_ih, bias_hh] as [1, 8H]. The time dim may stay symbolic.
   */
  lowerOnnx(b: OnnxBuilder, inputs: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult {
    const H = this.config.units;
    const x = inputs.x;
    const [batch, time, inputSize] = x.shape;
    // Gate blocks reordered PyTorch i, f, g, o -> ONNX i, o, f, c: one Gather of rows per weight.
    const rows = [0, 3, 1, 2].flatMap((k) => Array.from({ length: H }, (_, j) => k * H + j));
    const perm = tensor(rows, [4 * H], 'int32', x.backend);
    const blocks = (w: Tensor) => gather(w, perm, 0);
    const w = reshape(blocks(p.weight_ih), [1, 4 * H, inputSize]);
    const r = reshape(blocks(p.weight_hh), [1, 4 * H, H]);
    const bias = reshape(concat([blocks(p.bias_ih), blocks(p.bias_hh)], 0), [1, 8 * H]);
    // Absent initial state: ONNX starts from zeros, as forward does.
    const initial = (name: 'h' | 'c') => {
      const s = inputs[`${name}0`] ?? ctx.state?.[name];
      return s && reshape(s, [1, batch, H]);
    };
    const f32 = 'float32' as const;
    const [yAll, yh, yc] = b.op('LSTM', [transpose(x, [1, 0, 2]), w, r, bias, undefined, initial('h'), initial('c')], { hidden_size: onnxAttr.int(H) }, [
      { shape: [time, 1, batch, H], dtype: f32 },
      { shape: [1, batch, H], dtype: f32 },
      { shape: [1, batch, H], dtype: f32 },
    ]);
    const y = transpose(reshape(yAll, [time, batch, H]), [1, 0, 2]);
    const h = reshape(yh, [batch, H]);
    const c = reshape(yc, [batch, H]);
    return { outputs: { y, h, c }, state: { h, c } };
  }
}
