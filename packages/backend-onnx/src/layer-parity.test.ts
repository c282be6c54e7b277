// Every built-in layer alone, and the char-LSTM: ONE exported file per graph (symbolic batch and
// time, native LSTM/GRU lowerings), run by onnxruntime at three (batch, time) pairs, against the
// same graph on the tfjs cpu backend with the same parameters.
import { ParamStore, ReferenceBackend, Runtime, tidy } from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { builtinLayers } from '@ganglion/layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from './export.js';
import * as ort from 'onnxruntime-node';
import { runSession } from './ort-tensors.js';
import { type GraphCase, charModel, feedData, gptModel, layerCases, maxAbsDiff, toTensors } from './testing/graphs.js';

const TOLERANCE = 1e-4;
const PAIRS: readonly [number, number][] = [
  [1, 1],
  [2, 5],
  [3, 9],
];
const SEED = 5;

let tfjs: TfjsBackend;
const worst: Record<string, number> = {};

beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
});

afterAll(() => {
  console.log(
    `max |onnxruntime - tfjs| per graph over ${PAIRS.map((p) => `(${p})`).join(' ')}:\n${Object.entries(worst)
      .map(([k, v]) => `  ${k}: ${v.toExponential(2)}`)
      .join('\n')}`,
  );
});

it('every built-in layer has an export case (a new layer fails here until it gets one)', () => {
  const covered = new Set(layerCases().flatMap((c) => c.graph.nodes.map((n) => n.layer.kind)));
  const missing = builtinLayers.map((l) => l.kind).filter((k) => !covered.has(k));
  expect(missing).toEqual([]);
});

describe.each(
  [...layerCases(), charModel('lstm'), charModel('gru'), gptModel({ window: 4 })].map((c) => [c.name, c] as const),
)('%s: onnxruntime equals tfjs', (name, c: GraphCase) => {
  it('one file, three (batch, time) pairs', async () => {
    const params = ParamStore.initialize(c.graph, SEED, new ReferenceBackend());
    const bytes = exportOnnx(c.graph, params);
    const session = await ort.InferenceSession.create(bytes);
    const tfParams = ParamStore.initialize(c.graph, SEED, tfjs);
    const runtime = new Runtime(c.graph, { backend: tfjs, params: tfParams });
    let err = 0;
    for (const [batch, time] of PAIRS) {
      const feeds = feedData(c.inputs, batch, time, batch * 10 + time);
      const got = await runSession(session, feeds);
      const want = tidy(() => {
        const out = runtime.forward(toTensors(feeds, tfjs));
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { shape: v.shape, values: v.toArray() }]));
      });
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [k, w] of Object.entries(want)) {
        expect(got[k].shape, `${k} at (${batch}, ${time})`).toEqual(w.shape);
        const e = maxAbsDiff(got[k].data, w.values);
        err = Math.max(err, e);
        expect(e, `${k} at (${batch}, ${time})`).toBeLessThan(TOLERANCE);
      }
    }
    worst[name] = err;
    runtime.close();
    tfParams.dispose();
    await session.release();
  });
});
