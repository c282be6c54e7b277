// Recomputing cheap activations: on a GELU-like chain, the backward stops reading the forward's
// intermediates (it reads copies made from the input, kept anyway), small values are left alone,
// and onnxruntime computes exactly the same outputs.
import { type Tensor, add, mul, uniformValues } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import type onnxProto from 'onnx-proto';
import { onnx } from '../proto.js';
import * as ort from 'onnxruntime-node';
import { RECOMPUTE_MIN_ELEMENTS, recomputeCheapActivations } from './recompute.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

/** forward (scope "block"): y = (x/2)·(x·0.7 + 1); "backward" reads x/2 and x·0.7 + 1. */
function chain(rows: number): {
  tb: ShapeRecordingTrace;
  bytes: Uint8Array;
  forward: { half: string; shifted: string };
} {
  const tb = new ShapeRecordingTrace();
  const x = tb.input('x', { shape: [rows, 256], dtype: 'float32' });
  const dy = tb.input('dy', { shape: [rows, 256], dtype: 'float32' });
  tb.graph.scope = 'block';
  const half = mul(x, 0.5);
  const shifted = add(mul(x, 0.7), 1);
  tb.output('y', mul(half, shifted));
  tb.graph.scope = 'backward';
  tb.output('dx', add(mul(dy, shifted), mul(mul(dy, half), 0.7)));
  tb.graph.scope = '';
  const name = (t: Tensor) => (t.handle as { name: string }).name;
  return { tb, bytes: tb.toModel(), forward: { half: name(half), shifted: name(shifted) } };
}

const backwardReads = (graph: onnxProto.onnx.IGraphProto) =>
  new Set((graph.node ?? []).filter((n) => n.name?.startsWith('backward/')).flatMap((n) => n.input ?? []));

describe('recomputeCheapActivations', () => {
  it('gives the backward its own copies of large cheap values, with the same results', async () => {
    const rows = RECOMPUTE_MIN_ELEMENTS / 256;
    const { tb, bytes, forward } = chain(rows);
    const proto = onnx.ModelProto.decode(bytes);
    expect(backwardReads(proto.graph!).has(forward.shifted)).toBe(true);
    // x/2, x·0.7 (on the way to the shifted value) and x·0.7 + 1
    expect(
      recomputeCheapActivations(
        proto.graph!,
        (n) => n.name?.startsWith('backward/') ?? false,
        (v) => tb.shapeOf.get(v),
      ),
    ).toBe(3);
    const reads = backwardReads(proto.graph!);
    expect(reads.has(forward.half) || reads.has(forward.shifted)).toBe(false);
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from(uniformValues(1, rows * 256, -2, 2)), [rows, 256]),
      dy: new ort.Tensor('float32', Float32Array.from(uniformValues(2, rows * 256, -1, 1)), [rows, 256]),
    };
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model);
      const out = await session.run(feeds);
      await session.release();
      return [out.y.data as Float32Array, out.dx.data as Float32Array];
    };
    const [before, after] = [await run(bytes), await run(onnx.ModelProto.encode(proto).finish())];
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual(before[1]);
  });

  it('leaves values under RECOMPUTE_MIN_ELEMENTS alone', () => {
    const { tb, bytes } = chain(4);
    const proto = onnx.ModelProto.decode(bytes);
    expect(
      recomputeCheapActivations(
        proto.graph!,
        (n) => n.name?.startsWith('backward/') ?? false,
        (v) => tb.shapeOf.get(v),
      ),
    ).toBe(0);
  });
});
