// Stateful export: recurrent state as state_in.<node>.<key> / state_out.<node>.<key>. Fed one token
// at a time (zeros first), the model reproduces the whole-sequence outputs and the framework's own
// streaming forward.
import { ParamStore, ReferenceBackend, Runtime, tensor, tidy } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { PAST_SEQUENCE_LENGTH, STATE_METADATA_KEY, type StateBinding, traceModel } from './export.js';
import { onnx } from './proto.js';
import * as ort from 'onnxruntime-node';
import { type FeedValue, type OrtValue, runSession } from './ort-tensors.js';
import { VOCAB, charModel, feedData, gptModel, maxAbsDiff } from './testing/graphs.js';

const BATCH = 2;
const TIME = 7;
const reference = new ReferenceBackend();
const worst: Record<string, number> = {};

afterAll(() =>
  console.log(
    `stateful, max |step-by-step - reference|:\n${Object.entries(worst)
      .map(([k, v]) => `  ${k}: ${v.toExponential(2)}`)
      .join('\n')}`,
  ),
);

/** Column t of [batch, time, n] values. */
function stepOf(values: ArrayLike<number>, t: number, time: number, n: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < values.length / (time * n); b++)
    for (let j = 0; j < n; j++) out.push(values[(b * time + t) * n + j]);
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
    const stepModel = traceModel(c.graph, params, {
      stateful: true,
      native,
      inputs: native ? undefined : { ids: ['batch', 1] },
    });
    const nodes = cell === 'lstm' ? ['lstm1', 'lstm2'] : ['gru1', 'gru2'];
    const keys = cell === 'lstm' ? ['h', 'c'] : ['h'];
    expect(stepModel.state.map((s) => s.input).sort()).toEqual(
      nodes.flatMap((n) => keys.map((k) => `state_in.${n}.${k}`)).sort(),
    );
    const meta = onnx.ModelProto.decode(stepModel.bytes).metadataProps.find((p) => p.key === STATE_METADATA_KEY);
    expect((JSON.parse(meta!.value!) as StateBinding[]).map((s) => s.output)).toEqual(
      stepModel.state.map((s) => s.output),
    );

    const session = await ort.InferenceSession.create(stepModel.bytes);
    const whole = await ort.InferenceSession.create(traceModel(c.graph, params, {}).bytes);
    const { ids } = feedData(c.inputs, BATCH, TIME, 77);
    const all = await runSession(whole, { ids });
    const runtime = new Runtime(c.graph, { backend: reference, params });

    let state: Record<string, FeedValue> = Object.fromEntries(
      stepModel.state.map((s) => [
        s.input,
        { data: new Float32Array(BATCH * (s.shape[1] as number)), shape: [BATCH, s.shape[1] as number] },
      ]),
    );
    let err = 0;
    for (let t = 0; t < TIME; t++) {
      const token = { data: stepOf(ids.data, t, TIME, 1), shape: [BATCH, 1], dtype: 'int32' as const };
      const out: Record<string, OrtValue> = await runSession(session, { ids: token, ...state });
      state = Object.fromEntries(stepModel.state.map((s) => [s.input, out[s.output]]));
      const wholeStep = stepOf(all.logits.data, t, TIME, 12);
      const streamed = tidy(() =>
        runtime
          .forward({ ids: tensor(token.data, token.shape, 'int32', reference) }, { stream: true })
          .logits.toArray(),
      );
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

describe('GPT (TransformerBlocks with RoPE and a sliding window)', () => {
  const TOTAL = 9;
  const PROMPT = 3;
  const WINDOW = 4;

  it('exports its caches as past_key_values.N / present.N, and positions as position_ids', () => {
    const c = gptModel({ window: WINDOW });
    const model = traceModel(c.graph, ParamStore.initialize(c.graph, 9, reference), { stateful: true });
    expect(model.inputs.map((i) => i.name)).toEqual([
      'ids',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    expect(model.outputs.map((o) => o.name)).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
    ]);
    expect(model.inputs.find((i) => i.name === 'position_ids')).toEqual({
      name: 'position_ids',
      shape: ['batch', 'time'],
      dtype: 'int32',
    });
    expect(model.state[0]).toEqual({
      node: 'block1',
      key: 'key',
      input: 'past_key_values.0.key',
      output: 'present.0.key',
      shape: ['batch', 2, PAST_SEQUENCE_LENGTH, 8],
      dtype: 'float32',
    });
    const decoded = onnx.ModelProto.decode(model.bytes);
    const past = decoded.graph!.input!.find((i) => i.name === 'past_key_values.1.value')!;
    expect(past.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual([
      'batch',
      2,
      PAST_SEQUENCE_LENGTH,
      8,
    ]);
  });

  it.each([
    ['window 4', WINDOW],
    ['no window', undefined],
  ])(
    '%s: a prompt, then one token at a time with the caches, equals the whole sequence and the streaming forward',
    async (_, window) => {
      const c = gptModel({ window });
      const params = ParamStore.initialize(c.graph, 9, reference);
      const stepModel = traceModel(c.graph, params, { stateful: true });
      const session = await ort.InferenceSession.create(stepModel.bytes);
      const whole = await ort.InferenceSession.create(traceModel(c.graph, params, {}).bytes);
      const { ids } = feedData(c.inputs, BATCH, TOTAL, 78);
      const all = await runSession(whole, { ids });
      const runtime = new Runtime(c.graph, { backend: reference, params });
      const columns = (values: ArrayLike<number>, from: number, to: number, n: number) =>
        Array.from({ length: to - from }, (_, k) => from + k).map((t) => stepOf(values, t, TOTAL, n));
      // [batch, time] rows of the ids / logits for steps from..to-1, batch-major.
      const window_ = (values: ArrayLike<number>, from: number, to: number, n: number) => {
        const cols = columns(values, from, to, n);
        const out: number[] = [];
        for (let b = 0; b < BATCH; b++) for (const col of cols) out.push(...col.slice(b * n, (b + 1) * n));
        return out;
      };
      let cache: Record<string, FeedValue> = Object.fromEntries(
        stepModel.state.map((s) => [s.input, { data: new Float32Array(0), shape: [BATCH, 2, 0, 8] }]),
      );
      let err = 0;
      for (let [from, to] = [0, PROMPT]; from < TOTAL; [from, to] = [to, to + 1]) {
        const time = to - from;
        const tokens = { data: window_(ids.data, from, to, 1), shape: [BATCH, time], dtype: 'int32' as const };
        const positions = {
          data: Array.from({ length: BATCH * time }, (_, k) => from + (k % time)),
          shape: [BATCH, time],
          dtype: 'int32' as const,
        };
        const out = await runSession(session, { ids: tokens, position_ids: positions, ...cache });
        cache = Object.fromEntries(stepModel.state.map((s) => [s.input, out[s.output]]));
        expect(out['present.0.key'].shape[2], `cache length after step ${to}`).toBe(Math.min(to, window ?? Infinity));
        const streamed = tidy(() =>
          runtime
            .forward({ ids: tensor(tokens.data, tokens.shape, 'int32', reference) }, { stream: true, position: from })
            .logits.toArray(),
        );
        const wholeSteps = window_(all.logits.data, from, to, VOCAB);
        expect(maxAbsDiff(out.logits.data, wholeSteps), `steps ${from}..${to - 1} vs whole sequence`).toBeLessThan(
          1e-5,
        );
        expect(maxAbsDiff(out.logits.data, streamed), `steps ${from}..${to - 1} vs streaming forward`).toBeLessThan(
          1e-5,
        );
        err = Math.max(err, maxAbsDiff(out.logits.data, streamed), maxAbsDiff(out.logits.data, wholeSteps));
      }
      worst[`gpt, ${_}`] = err;
      runtime.close();
      await session.release();
      await whole.release();
    },
  );
});
