// Native lowerings (LSTM -> ONNX LSTM, GRU -> ONNX GRU, LayerNorm -> LayerNormalization, attention
// and position layers with positions and masks built in the graph) against the decomposed export of
// the same graph (the layer's forward traced primitive by primitive, with a concrete time dim), and
// both against the float64 reference backend's forward.
import { ParamStore, ReferenceBackend, Runtime, hasOnnxLowering, tidy } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from './export.js';
import { onnx } from './proto.js';
import * as ort from 'onnxruntime-node';
import { runSession } from './ort-tensors.js';
import { type GraphCase, charModel, feedData, gptModel, layerCases, maxAbsDiff, toTensors } from './testing/graphs.js';

const TIME = 6;
const reference = new ReferenceBackend();
/** Each case with a native lowering, and an ONNX op type only its native export has. */
const MARKERS: Readonly<Record<string, string | undefined>> = {
  lstm: 'LSTM',
  lstm_h0c0: 'LSTM',
  gru: 'GRU',
  gru_h0: 'GRU',
  lstm_mask: 'LSTM',
  gru_mask: 'GRU',
  bilstm_mask: 'LSTM',
  bigru_sum: 'GRU',
  bigru_sum_mask: 'GRU',
  'char-lstm': 'LSTM',
  'char-gru': 'GRU',
  layer_norm: 'LayerNormalization',
  layer_norm_plain: 'LayerNormalization',
  transformer_block: 'LayerNormalization',
  transformer_decoder_block: 'LayerNormalization',
  transformer_decoder_block_rope_gqa: 'Range',
  gpt: 'LayerNormalization',
  mha: undefined,
  mha_padding: 'Where',
  mha_causal_rope: 'Range',
  mha_window: 'Range',
  position_embedding: 'Range',
  sinusoidal_position_embedding: 'Range',
  rotary_embedding: 'Range',
};
const natives = [...layerCases(), charModel('lstm', 16), charModel('gru', 16), gptModel({ window: 4 })].filter(
  (c) => c.name in MARKERS,
);

const worst: Record<string, [number, number]> = {};
afterAll(() =>
  console.log(
    `native lowering, max |native - decomposed| and max |native - reference|:\n${Object.entries(worst)
      .map(([k, [a, b]]) => `  ${k}: ${a.toExponential(2)}, ${b.toExponential(2)}`)
      .join('\n')}`,
  ),
);

const opTypes = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType) ?? [];

it('every layer with a native lowering is in the table', () => {
  const lowered = new Set(
    layerCases().flatMap((c) => c.graph.nodes.filter((n) => hasOnnxLowering(n.layer)).map((n) => n.layer.kind)),
  );
  const covered = new Set(natives.flatMap((c) => c.graph.nodes.map((n) => n.layer.kind)));
  expect([...lowered].filter((k) => !covered.has(k))).toEqual([]);
});

describe.each(natives.map((c) => [c.name, c] as const))('%s: native lowering', (_, c: GraphCase) => {
  it('equals the decomposed export and the reference forward within 1e-5', async () => {
    const params = ParamStore.initialize(c.graph, 3, reference);
    const concreteTime = Object.fromEntries(
      c.inputs.map((i) => [i.name, i.shape.map((d) => (d === 'time' ? TIME : d))]),
    );
    const nativeBytes = exportOnnx(c.graph, params);
    const decomposedBytes = exportOnnx(c.graph, params, { native: false, inputs: concreteTime });
    const marker = MARKERS[c.name];
    if (marker) {
      expect(opTypes(nativeBytes)).toContain(marker);
      expect(opTypes(decomposedBytes)).not.toContain(marker);
    }

    const native = await ort.InferenceSession.create(nativeBytes);
    const decomposed = await ort.InferenceSession.create(decomposedBytes);
    const runtime = new Runtime(c.graph, { backend: reference, params });
    for (const batch of [1, 3]) {
      const feeds = feedData(c.inputs, batch, TIME, 40 + batch);
      const a = await runSession(native, feeds);
      const b = await runSession(decomposed, feeds);
      const ref = tidy(() =>
        Object.fromEntries(
          Object.entries(runtime.forward(toTensors(feeds, reference))).map(([k, v]) => [k, v.toArray()]),
        ),
      );
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
  expect(() => exportOnnx(c.graph, params, { native: false })).toThrow(
    /node "lstm" \(LSTM\).*time dim must be concrete.*native: true/,
  );
});
