// pushRowSlices on small traced graphs whose outputs are row blocks of a gradient-shaped value:
// onnxruntime runs the graph before and after the rewrite, the blocks agree, and the whole value
// is no longer computed.
import { type Tensor, add, matMul, mul, reduceSum, scatterAdd, slice, transpose } from '@ganglion/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import { pushRowSlices } from './row-slices.js';
import { rewriteDiff, uniformFeeds } from '../testing/rewrites.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

const V = 10;

async function compare(
  build: (x: Record<string, Tensor>) => { whole: Tensor; axis: number; blocks: [number, number][]; also?: Tensor },
  listed = true,
): Promise<{ cuts: number; maxDiff: number; wholeComputed: boolean }> {
  const tb = new ShapeRecordingTrace({ opset: 17 });
  const inputs = { dy: [6, V], h: [6, 4], u: [6, 4] };
  const x: Record<string, Tensor> = Object.fromEntries(
    Object.entries(inputs).map(([name, shape]) => [name, tb.input(name, { shape, dtype: 'float32' })]),
  );
  x.ids = tb.input('ids', { shape: [6], dtype: 'int32' });
  const { whole, axis, blocks, also } = build(x);
  blocks.forEach(([b, e], i) => tb.output(`block${i}`, slice(whole, [b], [e], [axis])));
  if (also) tb.output('also', also);
  const plain = tb.toModel();
  const proto = onnx.ModelProto.decode(plain);
  const cuts = pushRowSlices(proto.graph!, (v) => tb.shapeOf.get(v), listed ? blocks.map((_, i) => `block${i}`) : []);
  const rewritten = onnx.ModelProto.encode(proto).finish();
  const feeds = { ...uniformFeeds(inputs), ids: new ort.Tensor('int32', Int32Array.from([3, 0, 9, 3, 5, 7]), [6]) };
  const maxDiff = await rewriteDiff(plain, rewritten, feeds);
  const wholeShape = whole.shape.join(',');
  const wholeComputed = proto.graph!.node!.some((n) =>
    n.output!.some((o) => tb.shapeOf.get(o)?.join(',') === wholeShape),
  );
  return { cuts, maxDiff, wholeComputed };
}

describe('pushRowSlices', () => {
  it("a tied table's gradient (head product plus the embedding's scatter) is computed a row block at a time", async () => {
    const r = await compare(({ dy, h, u, ids }) => ({
      // dW [V, 4] = dyᵀ·h + scatter of u's rows onto the ids' rows (ids 3 twice, 9 in the last block).
      whole: add(matMul(transpose(dy, [1, 0]), h), scatterAdd(ids, u, 0, V)),
      axis: 0,
      blocks: [
        [0, 4],
        [4, 8],
        [8, 10],
      ],
    }));
    expect(r.maxDiff).toBeLessThan(1e-6);
    expect(r.cuts).toBeGreaterThanOrEqual(4); // Add, MatMul, Transpose, ScatterND (and its Expand)
    expect(r.wholeComputed).toBe(false);
  });

  it("an untied head's weight gradient, [in, out], cut along either axis", async () => {
    for (const axis of [0, 1]) {
      const blocks: [number, number][] =
        axis === 0
          ? [
              [0, 2],
              [2, 4],
            ]
          : [
              [0, 5],
              [5, 10],
            ];
      const r = await compare(({ dy, h }) => ({ whole: matMul(transpose(h, [1, 0]), dy), axis, blocks }));
      expect(r.maxDiff).toBeLessThan(1e-6);
      expect(r.cuts).toBeGreaterThanOrEqual(1);
      expect(r.wholeComputed).toBe(false);
    }
  });

  it("leaves Slices that do not make the listed outputs (an LSTM's time steps, attention heads)", async () => {
    const r = await compare(
      ({ dy, h }) => ({
        whole: matMul(transpose(dy, [1, 0]), h),
        axis: 0,
        blocks: [
          [0, 5],
          [5, 10],
        ],
      }),
      false,
    );
    expect(r.cuts).toBe(0);
    expect(r.wholeComputed).toBe(true);
  });

  it('leaves a value that something besides the slices reads', async () => {
    const r = await compare(({ dy, h }) => {
      const whole = matMul(transpose(dy, [1, 0]), h);
      return {
        whole,
        axis: 0,
        blocks: [
          [0, 5],
          [5, 10],
        ],
        also: reduceSum(mul(whole, whole), [0, 1]),
      };
    });
    expect(r.cuts).toBe(0);
    expect(r.maxDiff).toBe(0);
    expect(r.wholeComputed).toBe(true);
  });
});
