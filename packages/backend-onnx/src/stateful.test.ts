// Stateful export: recurrent state as state_in.<node>.<key> / state_out.<node>.<key>. Fed one token
// at a time (zeros first), the model reproduces the whole-sequence outputs and the framework's own
// streaming forward.
import { ParamStore, ReferenceBackend, Runtime, tensor, tidy } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { STATE_METADATA_KEY, type StateBinding, traceModel } from './export.js';
import { onnx } from './proto.js';
import { type FeedValue, type OrtValue, ort, runSession } from './ort-tensors.js';
import { charModel, feedData, maxAbsDiff } from './testing/graphs.js';

const BATCH = 2;
const TIME = 7;
const reference = new ReferenceBackend();
const worst: Record<string, number> = {};

afterAll(() => console.log(`stateful, max |step-by-step - reference|:\n${Object.entries(worst).map(([k, v]) => `  ${k}: ${v.toExponential(2)}`).join('\n')}`));

/** Column t of [batch, time, n] values. */
function stepOf(values: ArrayLike<number>, t: number, time: number, n: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < values.length / (time * n); b++) for (let j = 0; j < n; j++) out.push(values[(b * time + t) * n + j]);
  return out;
}

describe.each([
  ['char-lstm, native', 'lstm', true],
  ['char-gru, native', 'gru', true],
  ['char-lstm, decomposed (time = 1)', 'lstm', false],
] as const)('%s', (label, cell, native) => {
  it('token by token with state_in/state_out equals the whole sequence and the streaming forward', async () => {
    const c = charModel(cell, 16);
    const params = ParamStore.initialize(c.graph, 9, reference);
    const stepModel = traceModel(c.graph, params, { stateful: true, native, inputs: native ? undefined : { ids: ['batch', 1] } });
    const nodes = cell === 'lstm' ? ['lstm1', 'lstm2'] : ['gru1', 'gru2'];
    const keys = cell === 'lstm' ? ['h', 'c'] : ['h'];
    expect(stepModel.state.map((s) => s.input).sort()).toEqual(nodes.flatMap((n) => keys.map((k) => `state_in.${n}.${k}`)).sort());
    const meta = onnx.ModelProto.decode(stepModel.bytes).metadataProps.find((p) => p.key === STATE_METADATA_KEY);
    expect((JSON.parse(meta!.value!) as StateBinding[]).map((s) => s.output)).toEqual(stepModel.state.map((s) => s.output));

    const session = await ort.InferenceSession.create(stepModel.bytes);
    const whole = await ort.InferenceSession.create(traceModel(c.graph, params, {}).bytes);
    const { ids } = feedData(c.inputs, BATCH, TIME, 77);
    const all = await runSession(whole, { ids });
    const runtime = new Runtime(c.graph, { backend: reference, params });

    let state: Record<string, FeedValue> = Object.fromEntries(stepModel.state.map((s) => [s.input, { data: new Float32Array(BATCH * (s.shape[1] as number)), shape: [BATCH, s.shape[1] as number] }]));
    let err = 0;
    for (let t = 0; t < TIME; t++) {
      const token = { data: stepOf(ids.data, t, TIME, 1), shape: [BATCH, 1], dtype: 'int32' as const };
      const out: Record<string, OrtValue> = await runSession(session, { ids: token, ...state });
      state = Object.fromEntries(stepModel.state.map((s) => [s.input, out[s.output]]));
      const wholeStep = stepOf(all.logits.data, t, TIME, 12);
      const streamed = tidy(() => runtime.forward({ ids: tensor(token.data, token.shape, 'int32', reference) }, { stream: true }).logits.toArray());
      expect(maxAbsDiff(out.logits.data, wholeStep), `step ${t} vs whole sequence`).toBeLessThan(1e-5);
      expect(maxAbsDiff(out.logits.data, streamed), `step ${t} vs streaming forward`).toBeLessThan(1e-5);
      err = Math.max(err, maxAbsDiff(out.logits.data, streamed), maxAbsDiff(out.logits.data, wholeStep));
    }
    worst[label] = err;
    runtime.close();
    await session.release();
    await whole.release();
  });
});
