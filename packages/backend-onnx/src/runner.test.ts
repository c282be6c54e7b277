// OnnxRuntimeRunner: a graph's forward in onnxruntime, traced once per input signature, fed with
// Ganglion tensors from any backend or with typed arrays, streaming state like the framework.
import { ParamStore, ReferenceBackend, Runtime, tensor, tidy } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxRuntimeRunner } from './runner.js';
import { charModel, feedData, gptModel, maxAbsDiff, toTensors } from './testing/graphs.js';

const reference = new ReferenceBackend();
const c = charModel('lstm', 16);
const params = ParamStore.initialize(c.graph, 21, reference);
const runtime = new Runtime(c.graph, { backend: reference, params });
const expected = (ids: ReturnType<typeof feedData>['ids'], stream = false) =>
  tidy(() => runtime.forward({ ids: tensor(ids.data, ids.shape, 'int32', reference) }, { stream }).logits.toArray());

afterAll(() => runtime.close());

describe('OnnxRuntimeRunner', () => {
  it('traces once per input signature, caches the session, and matches the framework', async () => {
    const runner = new OnnxRuntimeRunner(c.graph, params, { backend: reference });
    for (const [batch, time] of [
      [2, 5],
      [1, 3],
      [2, 5],
    ] as const) {
      const { ids } = feedData(c.inputs, batch, time, batch + time);
      const { logits } = await runner.forward(toTensors({ ids }, reference));
      expect(logits.shape).toEqual([batch, time, 12]);
      expect(maxAbsDiff(logits.toArray(), expected(ids))).toBeLessThan(1e-5);
    }
    expect(runner.sessionCount).toBe(2);
    await runner.dispose();
    expect(runner.sessionCount).toBe(0);
  });

  it('takes typed arrays too, and returns raw values from run()', async () => {
    const runner = new OnnxRuntimeRunner(c.graph, params);
    const { ids } = feedData(c.inputs, 2, 4, 3);
    const out = await runner.run({ ids: { data: Int32Array.from(ids.data), shape: ids.shape } });
    expect(out.logits.data).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(out.logits.data, expected(ids))).toBeLessThan(1e-5);
    await runner.dispose();
  });

  it('dynamic shapes: one session for every signature', async () => {
    const runner = new OnnxRuntimeRunner(c.graph, params, { shapes: 'dynamic' });
    for (const [batch, time] of [
      [1, 2],
      [3, 6],
    ] as const) {
      const { ids } = feedData(c.inputs, batch, time, 8);
      expect(maxAbsDiff((await runner.run({ ids })).logits.data, expected(ids))).toBeLessThan(1e-5);
    }
    expect(runner.sessionCount).toBe(1);
    await runner.dispose();
  });

  it('streams like Runtime.forward(..., { stream: true }): a prompt, then token by token', async () => {
    const runner = new OnnxRuntimeRunner(c.graph, params);
    const { ids } = feedData(c.inputs, 2, 6, 13);
    const chunk = (from: number, to: number) => {
      const data: number[] = [];
      for (let b = 0; b < 2; b++) for (let t = from; t < to; t++) data.push(ids.data[b * 6 + t]);
      return { data: Float64Array.from(data), shape: [2, to - from], dtype: 'int32' as const };
    };
    runtime.resetState();
    for (const [from, to] of [
      [0, 3],
      [3, 4],
      [4, 5],
      [5, 6],
    ]) {
      const feed = chunk(from, to);
      const got = await runner.run({ ids: feed }, { stream: true });
      expect(maxAbsDiff(got.logits.data, expected(feed, true))).toBeLessThan(1e-5);
    }
    // After a reset, the first token again starts from zeros.
    runner.resetState();
    runtime.resetState();
    const first = chunk(0, 1);
    expect(
      maxAbsDiff((await runner.run({ ids: first }, { stream: true })).logits.data, expected(first, true)),
    ).toBeLessThan(1e-5);
    await expect(runner.run({ ids: { data: [1], shape: [1, 1], dtype: 'int32' } }, { stream: true })).rejects.toThrow(
      /resetState\(\) when the batch size changes/,
    );
    runtime.resetState();
    await runner.dispose();
  });

  it.each(['exact', 'dynamic'] as const)(
    'streams a GPT (KV caches, positions) like the framework, %s shapes',
    async (shapes) => {
      const gpt = gptModel({ window: 3 });
      const gptParams = ParamStore.initialize(gpt.graph, 4, reference);
      const gptRuntime = new Runtime(gpt.graph, { backend: reference, params: gptParams });
      const runner = new OnnxRuntimeRunner(gpt.graph, gptParams, { shapes });
      const { ids } = feedData(gpt.inputs, 1, 7, 5);
      for (let round = 0; round < 2; round++) {
        // [0, 2) as a prompt, then one token at a time, past the window; the second round after a reset.
        for (const [from, to] of [
          [0, 2],
          [2, 3],
          [3, 4],
          [4, 5],
          [5, 6],
          [6, 7],
        ]) {
          const feed = { data: ids.data.slice(from, to), shape: [1, to - from], dtype: 'int32' as const };
          const got = await runner.run({ ids: feed }, { stream: true });
          const want = tidy(() =>
            gptRuntime
              .forward({ ids: tensor(feed.data, feed.shape, 'int32', reference) }, { stream: true, position: from })
              .logits.toArray(),
          );
          expect(maxAbsDiff(got.logits.data, want), `round ${round}, tokens ${from}..${to - 1}`).toBeLessThan(1e-5);
        }
        runner.resetState();
        gptRuntime.resetState();
      }
      gptRuntime.close();
      await runner.dispose();
    },
  );

  it('rejects feeds that do not fit the graph', async () => {
    const runner = new OnnxRuntimeRunner(c.graph, params);
    await expect(runner.run({})).rejects.toThrow(/input "ids" was not fed/);
    await expect(runner.run({ ids: { data: [0.5], shape: [1, 1], dtype: 'float32' } })).rejects.toThrow(
      /input "ids": fed \[1, 1\] float32, expected \[batch, time\] int32/,
    );
  });
});
