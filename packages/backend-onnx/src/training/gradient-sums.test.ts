// The gradient-sum rewrites on small hand-made sums: the rewritten model computes what the
// original does (exactly for Pads, up to rounding for the Gemm), and leaves what it cannot prove
// alone (overlapping pieces, a Pad value other than zero).
import { type Tensor, add, matMul, pad, reduceSum, reshape, transpose, uniformValues } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import { ort } from '../ort-tensors.js';
import { type RewriteStats, rewriteGradientSums } from './gradient-sums.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

type Build = (input: (name: string, shape: number[]) => Tensor) => Tensor;

async function compare(build: Build): Promise<{ stats: RewriteStats; maxDiff: number; ops: string[] }> {
  const tb = new ShapeRecordingTrace();
  const shapes = new Map<string, number[]>();
  tb.output('s', build((name, shape) => (shapes.set(name, shape), tb.input(name, { shape, dtype: 'float32' }))));
  const plain = tb.toModel();
  const proto = onnx.ModelProto.decode(plain);
  const stats = rewriteGradientSums(proto.graph!, (v) => tb.shapeOf.get(v));
  const rewritten = onnx.ModelProto.encode(proto).finish();
  const feeds = Object.fromEntries(
    [...shapes].map(([name, shape], k) => [name, new ort.Tensor('float32', Float32Array.from(uniformValues(k + 1, shape.reduce((a, b) => a * b, 1), -1, 1)), shape)]),
  );
  const run = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes);
    const out = (await session.run(feeds)).s.data as Float32Array;
    await session.release();
    return out;
  };
  const [a, b] = [await run(plain), await run(rewritten)];
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  return { stats, maxDiff, ops: proto.graph!.node!.map((n) => n.opType!) };
}

describe('gradient-sum rewrites', () => {
  it('pads of disjoint pieces become one Concat, with zeros in the gaps and other terms added', async () => {
    const r = await compare((input) => {
      // Along axis 1 of [2, 10]: pieces at [1, 3) and [4, 7); gaps at 0, 3 and [7, 10). Plus a dense term.
      const a = pad(input('a', [2, 2]), [0, 1, 0, 7]);
      const b = pad(input('b', [2, 3]), [0, 4, 0, 3]);
      return add(add(a, input('dense', [2, 10])), b);
    });
    expect(r.stats).toEqual({ padSums: 1, padLeaves: 2, matMulSums: 0, matMulLeaves: 0, batchedProducts: 0 });
    expect(r.ops).not.toContain('Pad');
    expect(r.ops).toContain('Concat');
    expect(r.maxDiff).toBe(0);
  });

  it('leaves overlapping pieces alone', async () => {
    const r = await compare((input) => add(pad(input('a', [2, 3]), [0, 0, 0, 2]), pad(input('b', [2, 3]), [0, 2, 0, 0])));
    expect(r.stats.padSums).toBe(0);
    expect(r.ops.filter((o) => o === 'Pad')).toHaveLength(2);
    expect(r.maxDiff).toBe(0);
  });

  it('pads along different axes are grouped separately', async () => {
    const r = await compare((input) => {
      const rows = add(pad(input('r0', [1, 4]), [0, 0, 2, 0]), pad(input('r1', [2, 4]), [1, 0, 0, 0]));
      const cols = add(pad(input('c0', [3, 1]), [0, 0, 0, 3]), pad(input('c1', [3, 3]), [0, 1, 0, 0]));
      return add(rows, cols);
    });
    expect(r.stats).toEqual({ padSums: 2, padLeaves: 4, matMulSums: 0, matMulLeaves: 0, batchedProducts: 0 });
    expect(r.maxDiff).toBe(0);
  });

  it('a sum of aᵢᵀ·bᵢ becomes one Gemm over the concatenated rows', async () => {
    const r = await compare((input) => {
      let acc: Tensor | undefined;
      for (let t = 0; t < 5; t++) {
        const g = matMul(transpose(input(`h${t}`, [3, 4]), [1, 0]), input(`dz${t}`, [3, 6]));
        acc = acc ? add(acc, g) : g;
      }
      return acc!;
    });
    expect(r.stats).toEqual({ padSums: 0, padLeaves: 0, matMulSums: 1, matMulLeaves: 5, batchedProducts: 0 });
    expect(r.ops.filter((o) => o === 'MatMul')).toHaveLength(0);
    expect(r.ops).toContain('Gemm');
    expect(r.maxDiff).toBeLessThan(1e-5);
  });

  it("the batch sum of per-example products xᵀ·g (a 2-D weight's gradient) becomes one Gemm", async () => {
    const r = await compare((input) => reshape(reduceSum(matMul(transpose(input('x', [3, 5, 4]), [0, 2, 1]), input('g', [3, 5, 6])), [0], true), [4, 6]));
    expect(r.stats).toEqual({ padSums: 0, padLeaves: 0, matMulSums: 0, matMulLeaves: 0, batchedProducts: 1 });
    expect(r.ops).not.toContain('ReduceSum');
    expect(r.maxDiff).toBeLessThan(1e-5);
  });
});
