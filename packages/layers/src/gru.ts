// GRU over a whole sequence, batch-first, PyTorch's equations and parameter layout:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   (reset gate applied after the recurrent matmul)
//   h' = (1 - z) ⊙ n + z ⊙ h
// Parameters (torch.nn.GRU's weight_ih_l0, ...): weight_ih [3H, I], weight_hh [3H, H],
// bias_ih [3H], bias_hh [3H], gate blocks r, z, n. Initialized U(-1/√H, 1/√H).
// Ports: x [batch, time, I]; optional h0 [batch, H]. Outputs y [batch, time, H], h [batch, H].
import { Layer, ShapeError, type LayerContext, type LayerResult, type LayerSignature, type OnnxBuilder, type OnnxLowerable, type Tensor, type TensorSpec, add, concat, gather, matMul, mul, onnxAttr, reshape, sigmoid, tensor, sub, tanh, transpose } from '@ganglion/core';
import { gate, initialState, recurrentShapes, stackSteps, stepOf } from './recurrent.js';

export interface GRUConfig {
  readonly units: number;
}

export class GRU extends Layer<GRUConfig> implements OnnxLowerable {
  static override readonly kind = 'GRU';
  readonly inputs = [{ name: 'x' }, { name: 'h0', optional: true }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const H = this.config.units;
    const { batch, time, inputSize } = recurrentShapes(inputs, H, ['h0']);
    const k = 1 / Math.sqrt(H);
    const init = { kind: 'uniform', low: -k, high: k } as const;
    return {
      outputs: [
        { name: 'y', dtype: 'float32', shape: [batch, time, H] },
        { name: 'h', dtype: 'float32', shape: [batch, H] },
      ],
      params: [
        { name: 'weight_ih', shape: [3 * H, inputSize], init },
        { name: 'weight_hh', shape: [3 * H, H], init },
        { name: 'bias_ih', shape: [3 * H], init },
        { name: 'bias_hh', shape: [3 * H], init },
      ],
    };
  }

  forward(inputs: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult {
    const H = this.config.units;
    const x = inputs.x;
    const [batch, time] = x.shape;
    if (typeof time !== 'number') throw new ShapeError(`${this.kind}: the time dim must be concrete to unroll, got ${time}`);
    const xz = add(matMul(x, transpose(p.weight_ih)), p.bias_ih);
    const whh = transpose(p.weight_hh);
    let h = initialState('h', inputs, ctx, batch, H);
    const hs: Tensor[] = [];
    for (let t = 0; t < time; t++) {
      const xt = stepOf(xz, t);
      const hz = add(matMul(h, whh), p.bias_hh);
      const r = sigmoid(add(gate(xt, 0, H), gate(hz, 0, H)));
      const z = sigmoid(add(gate(xt, 1, H), gate(hz, 1, H)));
      const n = tanh(add(gate(xt, 2, H), mul(r, gate(hz, 2, H))));
      h = add(mul(sub(1, z), n), mul(z, h));
      hs.push(h);
    }
    return { outputs: { y: stackSteps(hs), h }, state: { h } };
  }

  /**
   * Native export: one ONNX `GRU` node (layout 0, x transposed to [time, batch, I] around it).
   * ONNX orders the gate blocks z, r, h where PyTorch has r, z, n, and `linear_before_reset = 1`
   * applies the reset gate after the recurrent matmul, as PyTorch does. The time dim may stay symbolic.
   */
  lowerOnnx(b: OnnxBuilder, inputs: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult {
    const H = this.config.units;
    const x = inputs.x;
    const [batch, time, inputSize] = x.shape;
    // Gate blocks reordered PyTorch r, z, n -> ONNX z, r, h: one Gather of rows per weight.
    const rows = [1, 0, 2].flatMap((k) => Array.from({ length: H }, (_, j) => k * H + j));
    const perm = tensor(rows, [3 * H], 'int32', x.backend);
    const blocks = (w: Tensor) => gather(w, perm, 0);
    const w = reshape(blocks(p.weight_ih), [1, 3 * H, inputSize]);
    const r = reshape(blocks(p.weight_hh), [1, 3 * H, H]);
    const bias = reshape(concat([blocks(p.bias_ih), blocks(p.bias_hh)], 0), [1, 6 * H]);
    const h0 = inputs.h0 ?? ctx.state?.h;
    const f32 = 'float32' as const;
    const [yAll, yh] = b.op(
      'GRU',
      [transpose(x, [1, 0, 2]), w, r, bias, undefined, h0 && reshape(h0, [1, batch, H])],
      { hidden_size: onnxAttr.int(H), linear_before_reset: onnxAttr.int(1) },
      [
        { shape: [time, 1, batch, H], dtype: f32 },
        { shape: [1, batch, H], dtype: f32 },
      ],
    );
    const y = transpose(reshape(yAll, [time, batch, H]), [1, 0, 2]);
    const h = reshape(yh, [batch, H]);
    return { outputs: { y, h }, state: { h } };
  }
}
