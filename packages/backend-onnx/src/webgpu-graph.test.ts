// Splitting wide Concats for WebGPU: the rewritten model computes exactly what the original does
// (onnxruntime runs both), and no Concat is left wider than the limit.
import { concat, uniformValues } from '@ganglion/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { onnx } from './proto.js';
import { ShapeRecordingTrace } from './training/trace-train-step.js';
import { MAX_CONCAT_INPUTS, forWebGpu, splitWideConcats } from './webgpu-graph.js';

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = (await session.run(feeds)).y.data as Float32Array;
  await session.release();
  return out;
}

describe('splitWideConcats', () => {
  it.each([
    [20, 1, 7],
    [33, 0, 7],
    [50, 2, 4],
  ])(
    'a Concat of %i inputs along axis %i becomes Concats of at most %i, with the same values',
    async (n, axis, max) => {
      const tb = new ShapeRecordingTrace();
      const shape = [2, 1, 3];
      const feeds: Record<string, ort.Tensor> = {};
      const xs = Array.from({ length: n }, (_, i) => {
        feeds[`x${i}`] = new ort.Tensor('float32', Float32Array.from(uniformValues(i + 1, 6, -1, 1)), shape);
        return tb.input(`x${i}`, { shape, dtype: 'float32' });
      });
      tb.output('y', concat(xs, axis));
      const plain = tb.toModel();
      const proto = onnx.ModelProto.decode(plain);
      expect(splitWideConcats(proto.graph!, max)).toBe(1);
      const concats = proto.graph!.node!.filter((x) => x.opType === 'Concat');
      expect(Math.max(...concats.map((c) => c.input!.length))).toBeLessThanOrEqual(max);
      expect(concats.length).toBeGreaterThan(1);
      const split = onnx.ModelProto.encode(proto).finish();
      expect(await run(split, feeds)).toEqual(await run(plain, feeds));
    },
  );

  it('leaves a model without a wide Concat as it is', () => {
    const tb = new ShapeRecordingTrace();
    const xs = Array.from({ length: MAX_CONCAT_INPUTS }, (_, i) => tb.input(`x${i}`, { shape: [2], dtype: 'float32' }));
    tb.output('y', concat(xs, 0));
    const bytes = tb.toModel();
    expect(forWebGpu(bytes)).toBe(bytes);
  });
});
