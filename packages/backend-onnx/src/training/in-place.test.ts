// Writing outputs in place: which outputs may share their input's buffer (every reader of the
// input runs before the output's producer), checked by hand on small graphs and by onnxruntime
// writing into the input's own buffer; and removing the tracer's output Identities.
import { add, mul, sub } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import * as ort from 'onnxruntime-node';
import { inPlaceOutputs, writeOutputsDirectly } from './in-place.js';
import { ShapeRecordingTrace } from './trace-train-step.js';

const spec = { shape: [2], dtype: 'float32' as const };

describe('inPlaceOutputs', () => {
  it('allows an update whose input is only read on the way to it, and onnxruntime then updates the buffer in place', async () => {
    const tb = new ShapeRecordingTrace();
    const p = tb.input('p', spec);
    const g = tb.input('g', spec);
    tb.output('new_p', sub(p, mul(g, 0.5)));
    const proto = onnx.ModelProto.decode(tb.toModel());
    writeOutputsDirectly(proto.graph!);
    expect([...inPlaceOutputs(proto.graph!, [['p', 'new_p']])]).toEqual(['new_p']);
    const session = await ort.InferenceSession.create(onnx.ModelProto.encode(proto).finish());
    const buffer = new ort.Tensor('float32', Float32Array.of(1, 2), [2]);
    await session.run({ p: buffer, g: new ort.Tensor('float32', Float32Array.of(3, 4), [2]) }, { new_p: buffer });
    // p - g/2 = [1 - 1.5, 2 - 2]
    expect([...(buffer.data as Float32Array)]).toEqual([-0.5, 0]);
    await session.release();
  });

  it('refuses when a reader of the input is not an ancestor of the output (it could run after the write)', () => {
    const tb = new ShapeRecordingTrace();
    const p = tb.input('p', spec);
    const g = tb.input('g', spec);
    tb.output('new_p', sub(g, 1));
    tb.output('seen', add(p, 1));
    const proto = onnx.ModelProto.decode(tb.toModel());
    writeOutputsDirectly(proto.graph!);
    expect(inPlaceOutputs(proto.graph!, [['p', 'new_p']]).size).toBe(0);
  });
});

describe('writeOutputsDirectly', () => {
  it("lets an output's producer write it, and the model computes the same", async () => {
    const tb = new ShapeRecordingTrace();
    const x = tb.input('x', spec);
    const y = mul(x, 3);
    tb.output('y', y);
    tb.output('z', add(y, 1));
    const bytes = tb.toModel();
    const proto = onnx.ModelProto.decode(bytes);
    expect(proto.graph!.node!.map((n) => n.opType)).toContain('Identity');
    expect(writeOutputsDirectly(proto.graph!)).toBe(2);
    expect(proto.graph!.node!.map((n) => n.opType).sort()).toEqual(['Add', 'Mul']);
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model);
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, -2), [2]) });
      await session.release();
      return [...(out.y.data as Float32Array), ...(out.z.data as Float32Array)];
    };
    expect(await run(onnx.ModelProto.encode(proto).finish())).toEqual([3, -6, 4, -5]);
    expect(await run(bytes)).toEqual([3, -6, 4, -5]);
  });
});
