// The gradient-sum rewrite on small hand-made sums: the rewritten model computes what the original
// does (up to rounding: the Gemm sums in another order), and leaves alone what does not match.
import { type Tensor, add, matMul, scatterAdd, tensor, transpose, uniformValues } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import * as ort from 'onnxruntime-node';
import { type GradientSumStats, rewriteGradientSums } from './gradient-sums.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

type Build = (
  input: (name: string, shape: number[]) => Tensor,
  ints: (values: number[], shape: number[]) => Tensor,
) => Tensor;

async function compare(build: Build): Promise<{ stats: GradientSumStats; maxDiff: number; ops: string[] }> {
  const tb = new ShapeRecordingTrace();
  const shapes = new Map<string, number[]>();
  tb.output(
    's',
    build(
      (name, shape) => (shapes.set(name, shape), tb.input(name, { shape, dtype: 'float32' })),
      (values, shape) => tensor(values, shape, 'int32', tb),
    ),
  );
  const plain = tb.toModel();
  const proto = onnx.ModelProto.decode(plain);
  const stats = rewriteGradientSums(proto.graph!, (v) => tb.shapeOf.get(v));
  const rewritten = onnx.ModelProto.encode(proto).finish();
  const feeds = Object.fromEntries(
    [...shapes].map(([name, shape], k) => [
      name,
      new ort.Tensor(
        'float32',
        Float32Array.from(
          uniformValues(
            k + 1,
            shape.reduce((a, b) => a * b, 1),
            -1,
            1,
          ),
        ),
        shape,
      ),
    ]),
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
  it('a sum of aᵢᵀ·bᵢ becomes one Gemm over the concatenated rows', async () => {
    const r = await compare((input) => {
      let acc: Tensor | undefined;
      for (let t = 0; t < 5; t++) {
        const g = matMul(transpose(input(`h${t}`, [3, 4]), [1, 0]), input(`dz${t}`, [3, 6]));
        acc = acc ? add(acc, g) : g;
      }
      return acc!;
    });
    expect(r.stats).toEqual({ matMulSums: 1, matMulLeaves: 5, scatterSums: 0 });
    expect(r.ops.filter((o) => o === 'MatMul')).toHaveLength(0);
    expect(r.ops).toContain('Gemm');
    expect(r.maxDiff).toBeLessThan(1e-5);
  });

  it('leaves alone a sum whose products are not aᵀ·b, or that holds one', async () => {
    const r = await compare((input) => {
      const plain = add(
        matMul(input('a0', [4, 3]), input('b0', [3, 6])),
        matMul(input('a1', [4, 3]), input('b1', [3, 6])),
      );
      return add(plain, matMul(transpose(input('h', [3, 4]), [1, 0]), input('dz', [3, 6])));
    });
    expect(r.stats).toEqual({ matMulSums: 0, matMulLeaves: 0, scatterSums: 0 });
    expect(r.ops.filter((o) => o === 'MatMul')).toHaveLength(3);
    expect(r.maxDiff).toBe(0);
  });

  it("a tied weight's gradient, a scatter onto zeros plus a product, becomes one scatter onto the product", async () => {
    // ids repeat (1 twice): the scatter adds both rows, as the Gather's VJP must.
    const r = await compare((input, ints) =>
      add(
        scatterAdd(ints([1, 4, 1, 0], [2, 2]), input('dEmb', [2, 2, 3]), 0, 6),
        matMul(transpose(input('dLogits', [5, 6]), [1, 0]), input('x', [5, 3])),
      ),
    );
    expect(r.stats).toEqual({ matMulSums: 0, matMulLeaves: 0, scatterSums: 1 });
    expect(r.ops.filter((o) => o === 'ScatterND')).toHaveLength(1);
    expect(r.ops).not.toContain('Add');
    expect(r.ops).not.toContain('Expand');
    expect(r.maxDiff).toBeLessThan(1e-6);
  });

  it('leaves alone a scatter whose sum broadcasts', async () => {
    const r = await compare((input, ints) =>
      add(scatterAdd(ints([1, 4], [2]), input('dEmb', [2, 3]), 0, 6), input('b', [3])),
    );
    expect(r.stats.scatterSums).toBe(0);
    expect(r.ops).toContain('Add');
    expect(r.maxDiff).toBe(0);
  });
});
