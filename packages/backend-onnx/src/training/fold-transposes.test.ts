// The transpose folds on small traced graphs: onnxruntime runs the graph before and after, and the
// outputs agree (up to rounding: a sum of squares in another order), with the copies gone.
import { type Tensor, matMul, mul, reduceSum, transpose } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import { foldTransposes } from './fold-transposes.js';
import { rewriteDiff, uniformFeeds } from '../testing/rewrites.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

async function compare(
  opset: number,
  inputs: Record<string, number[]>,
  build: (x: Record<string, Tensor>) => Record<string, Tensor>,
): Promise<{ folds: number; maxDiff: number; ops: string[] }> {
  const tb = new ShapeRecordingTrace({ opset });
  const x = Object.fromEntries(
    Object.entries(inputs).map(([name, shape]) => [name, tb.input(name, { shape, dtype: 'float32' })]),
  );
  const outputs = build(x);
  for (const [name, t] of Object.entries(outputs)) tb.output(name, t);
  const plain = tb.toModel();
  const proto = onnx.ModelProto.decode(plain);
  const folds = foldTransposes(proto.graph!, (v) => tb.shapeOf.get(v), opset);
  const folded = onnx.ModelProto.encode(proto).finish();
  const maxDiff = await rewriteDiff(plain, folded, uniformFeeds(inputs));
  return { folds, maxDiff, ops: proto.graph!.node!.map((n) => n.opType!) };
}

/** A tied head's product and its two VJPs, as the tape writes them, and the norm's sum of squares. */
const tiedHead = ({ x, w, dy }: Record<string, Tensor>) => {
  const wt = transpose(w, [1, 0]);
  const dw = transpose(matMul(transpose(x, [1, 0]), dy), [1, 0]);
  return {
    y: matMul(x, wt),
    dx: matMul(dy, transpose(wt, [1, 0])),
    dw,
    norm: reduceSum(mul(dw, dw), [0, 1]),
  };
};

describe('foldTransposes', () => {
  for (const opset of [17, 18]) {
    it(`a tied head's VJPs keep no copy of the table, and the norm squares in one op (opset ${opset})`, async () => {
      const r = await compare(opset, { x: [6, 4], w: [9, 4], dy: [6, 9] }, tiedHead);
      expect(r.maxDiff).toBeLessThan(1e-5);
      // Left: the forward's Wᵀ (read once now: onnxruntime fuses it into its product) and dyᵀ for
      // W's gradient, which comes out [9, 4] from one product; no Transpose of a Transpose or of a product.
      expect(r.ops.filter((o) => o === 'Transpose')).toHaveLength(2);
      expect(r.ops.filter((o) => o === 'MatMul')).toHaveLength(3);
      expect(r.ops).toContain('ReduceSumSquare');
      expect(r.ops).not.toContain('Mul');
      expect(r.folds).toBe(3);
    });
  }

  it('transposes that do not undo each other become one; a product read twice is left', async () => {
    const r = await compare(17, { a: [2, 3, 4], b: [3, 5] }, ({ a, b }) => {
      const p = matMul(transpose(b, [1, 0]), b); // [5, 5]
      return {
        t: transpose(transpose(a, [1, 0, 2]), [0, 2, 1]),
        p,
        pt: transpose(p, [1, 0]),
        sq: reduceSum(mul(p, p), undefined, true),
      };
    });
    expect(r.maxDiff).toBeLessThan(1e-5);
    expect(r.folds).toBe(2); // the two transposes of a, and the sum of squares (p is read four times: no MatMul swap)
    expect(r.ops.filter((o) => o === 'Transpose')).toHaveLength(3); // bᵀ, pᵀ and the one left of a's two
    expect(r.ops).toContain('ReduceSumSquare');
  });
});
