// Masked and bidirectional recurrent layers beyond the per-layer parity cases: the exported model
// (native ONNX LSTM/GRU with sequence_lens) on sequences with no valid step; the compiled training
// step against the eager tfjs loop on a masked bidirectional model; and how the compiled step
// draws variational dropout masks (onnxruntime RandomUniform: one node per mask, [batch, features],
// shared by every time step, so each mask is constant across time, though not eager's values).
import {
  GraphBuilder,
  type Graph,
  ParamStore,
  ReferenceBackend,
  Runtime,
  createTrainer,
  keep,
  tensor,
  tidy,
} from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { Bidirectional, Dense, Embedding, GRU, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from './export.js';
import * as ort from 'onnxruntime-node';
import { runSession } from './ort-tensors.js';
import { onnx } from './proto.js';
import { maxAbsDiff } from './testing/graphs.js';
import { CompiledTrainer, compileTrainStep } from './training/compiled-trainer.js';

let tfjs: TfjsBackend;
beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
});

const V = 11;
const B = 4;
const T = 6;
/** Lengths 6, 4, 1 and a hole at step 2 of the last sequence. */
const MASK = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0];

/** Embedding 6 -> Bidirectional LSTM 5 (concat, masked) -> Dense vocab, masked cross-entropy. */
function taggerModel(o: { dropout?: number; recurrentDropout?: number } = {}): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const mask = g.input('mask', ['batch', 'time']);
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const e = g.node('embed', new Embedding({ vocabSize: V, dim: 6 }), ids);
  const h = g.node('birnn', new Bidirectional({ cell: 'lstm', units: 5, ...o }), { x: e, mask });
  const logits = g.node('head', new Dense({ units: V }), h);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels, mask }));
  return g.build();
}

function batch(k: number) {
  const ids = Array.from({ length: B * T }, (_, i) => (i * 5 + k * 3 + ((i * i) % 7)) % V);
  return {
    ids: keep(tensor(ids, [B, T], 'int32', tfjs)),
    mask: keep(tensor(MASK, [B, T], 'float32', tfjs)),
    labels: keep(
      tensor(
        ids.map((v, i) => ids[(i + 1) % ids.length]),
        [B, T],
        'int32',
        tfjs,
      ),
    ),
  };
}

describe('export', () => {
  it.each([
    ['LSTM (initial state wired)', () => new LSTM({ units: 4 }), ['h0', 'c0'], ['y', 'h', 'c']],
    ['GRU', () => new GRU({ units: 4 }), [], ['y', 'h']],
    ['Bidirectional GRU', () => new Bidirectional({ cell: 'gru', units: 3 }), [], ['y', 'h']],
  ] as const)(
    '%s: a sequence with no valid step keeps its initial state, outputs zeros',
    async (_, make, states, outs) => {
      const H = 4;
      const g = new GraphBuilder();
      const ports = { x: g.input('x', ['batch', 'time', 3]), mask: g.input('mask', ['batch', 'time']) };
      const node = g.node('rnn', make(), {
        ...ports,
        ...Object.fromEntries(states.map((s) => [s, g.input(s, ['batch', H])])),
      });
      for (const o of outs) g.output(o, node.out(o));
      const graph = g.build();
      const ref = new ReferenceBackend();
      const params = ParamStore.initialize(graph, 4, ref);
      const session = await ort.InferenceSession.create(exportOnnx(graph, params));
      const f32 = (shape: number[], data: ArrayLike<number>) => ({
        data: Float64Array.from(data),
        shape,
        dtype: 'float32' as const,
      });
      const feeds: Record<string, ReturnType<typeof f32>> = {
        x: f32(
          [3, 4, 3],
          Array.from({ length: 36 }, (_, i) => Math.fround(Math.sin(i))),
        ),
        mask: f32([3, 4], [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]),
        ...Object.fromEntries(
          states.map((s, k) => [
            s,
            f32(
              [3, H],
              Array.from({ length: 3 * H }, (_, i) => Math.fround(Math.cos(i + k))),
            ),
          ]),
        ),
      };
      const got = await runSession(session, feeds);
      const runtime = new Runtime(graph, { params, backend: ref });
      const want = tidy(() =>
        Object.fromEntries(
          Object.entries(
            runtime.forward(
              Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, tensor(v.data, v.shape, 'float32', ref)])),
            ),
          ).map(([k, v]) => [k, Array.from(v.dataSync())]),
        ),
      );
      for (const o of outs) expect(maxAbsDiff(got[o].data, want[o]), o).toBeLessThan(1e-5);
      // Sequence 1 has no valid step: h is its initial state (h0, else zeros).
      const width = got.h.shape[1];
      const h0 = states.length ? Array.from(feeds.h0.data.slice(H, 2 * H)) : new Array(width).fill(0);
      expect(maxAbsDiff(got.h.data.slice(width, 2 * width), h0)).toBeLessThan(1e-7);
      await session.release();
    },
  );
});

describe('compiled training step', () => {
  it('equals the eager tfjs loop on a masked bidirectional LSTM (no dropout), 10 steps', async () => {
    const graph = taggerModel();
    const make = () =>
      createTrainer({ optimizer: 'adam', lr: 1e-2, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } });
    const eager = new Runtime(graph, { seed: 5, backend: tfjs });
    const compiled = compileTrainStep(new Runtime(graph, { seed: 5, backend: tfjs }), make());
    const eagerTrainer = make();
    for (let s = 0; s < 10; s++) {
      const data = batch(s % 3);
      const a = eagerTrainer.trainStep(eager, data);
      const b = await compiled.step(data);
      expect(Math.abs(a.loss - b.loss) / a.loss, `loss at step ${s + 1}`).toBeLessThan(1e-4);
    }
    const weights = compiled.paramStore(tfjs);
    expect([...weights.keys()]).toContain('birnn.weight_hh_reverse');
    for (const [key, t] of weights.entries())
      expect(maxAbsDiff(t.dataSync(), eager.params.get(key).dataSync()), key).toBeLessThan(1e-4);
    weights.dispose();
    await compiled.dispose();
    eager.close();
  });

  it('variational dropout: one RandomUniform per mask and direction, [batch, features], shared by every step', async () => {
    const graph = taggerModel({ dropout: 0.3, recurrentDropout: 0.4 });
    const compiled = new CompiledTrainer(
      graph,
      ParamStore.initialize(graph, 1, new ReferenceBackend()),
      createTrainer({ optimizer: 'sgd', lr: 1e-12 }),
    );
    const data = batch(0);
    const model = await compiled.prepare(data);
    const random = onnx.ModelProto.decode(model.bytes).graph!.node!.filter((n) => n.opType === 'RandomUniform');
    const shapes = random.map((n) => n.attribute!.find((a) => a.name === 'shape')!.ints!.map(Number));
    // Per direction: the input mask [batch, 6] then the state mask [batch, 5]; T = 6 steps share them.
    expect(shapes).toEqual([
      [B, 6],
      [B, 5],
      [B, 6],
      [B, 5],
    ]);
    // A fresh draw every step: with weights that do not move, the loss still changes.
    const losses = [];
    for (let i = 0; i < 3; i++) losses.push((await compiled.step(data)).loss);
    expect(new Set(losses).size).toBe(3);
    await compiled.dispose();
  });
});
