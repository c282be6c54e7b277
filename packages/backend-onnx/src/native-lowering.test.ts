// Native lowerings (LSTM -> ONNX LSTM, GRU -> ONNX GRU) against the decomposed export of the same
// graph (the layer's forward traced primitive by primitive, with a concrete time dim), and both
// against the float64 reference backend's forward.
import { ParamStore, ReferenceBackend, Runtime, tidy } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from './export.js';
import { onnx } from './proto.js';
import { ort, runSession } from './ort-tensors.js';
import { type GraphCase, charModel, feedData, layerCases, maxAbsDiff, toTensors } from './testing/graphs.js';

const TIME = 6;
const reference = new ReferenceBackend();
const recurrent = [...layerCases().filter((c) => /^(lstm|gru)/.test(c.name)), charModel('lstm', 16), charModel('gru', 16)];

const worst: Record<string, [number, number]> = {};
afterAll(() => console.log(`native lowering, max |native - decomposed| and max |native - reference|:\n${Object.entries(worst).map(([k, [a, b]]) => `  ${k}: ${a.toExponential(2)}, ${b.toExponential(2)}`).join('\n')}`));

const opTypes = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType) ?? [];

describe.each(recurrent.map((c) => [c.name, c] as const))('%s: native lowering', (_, c: GraphCase) => {
  it('equals the decomposed export and the reference forward within 1e-5', async () => {
    const params = ParamStore.initialize(c.graph, 3, reference);
    const concreteTime = Object.fromEntries(c.inputs.map((i) => [i.name, i.shape.map((d) => (d === 'time' ? TIME : d))]));
    const nativeBytes = exportOnnx(c.graph, params);
    const decomposedBytes = exportOnnx(c.graph, params, { native: false, inputs: concreteTime });
    const cell = c.name.includes('gru') ? 'GRU' : 'LSTM';
    expect(opTypes(nativeBytes)).toContain(cell);
    expect(opTypes(decomposedBytes)).not.toContain(cell);

    const native = await ort.InferenceSession.create(nativeBytes);
    const decomposed = await ort.InferenceSession.create(decomposedBytes);
    const runtime = new Runtime(c.graph, { backend: reference, params });
    for (const batch of [1, 3]) {
      const feeds = feedData(c.inputs, batch, TIME, 40 + batch);
      const a = await runSession(native, feeds);
      const b = await runSession(decomposed, feeds);
      const ref = tidy(() => Object.fromEntries(Object.entries(runtime.forward(toTensors(feeds, reference))).map(([k, v]) => [k, v.toArray()])));
      for (const k of Object.keys(ref)) {
        const [d, r] = worst[c.name] ?? [0, 0];
        worst[c.name] = [Math.max(d, maxAbsDiff(a[k].data, b[k].data)), Math.max(r, maxAbsDiff(a[k].data, ref[k]))];
        expect(maxAbsDiff(a[k].data, b[k].data), `${k}: native vs decomposed`).toBeLessThan(1e-5);
        expect(maxAbsDiff(a[k].data, ref[k]), `${k}: native vs reference`).toBeLessThan(1e-5);
        expect(maxAbsDiff(b[k].data, ref[k]), `${k}: decomposed vs reference`).toBeLessThan(1e-5);
      }
    }
    await native.release();
    await decomposed.release();
  });
});

it('the decomposed export needs a concrete time dim, and says so', () => {
  const c = layerCases().find((l) => l.name === 'lstm')!;
  const params = ParamStore.initialize(c.graph, 3, reference);
  expect(() => exportOnnx(c.graph, params, { native: false })).toThrow(/node "lstm" \(LSTM\).*time dim must be concrete.*native: true/);
});
