// benchCompiledTraining runs end to end on a tiny char-LSTM and reports what the bench prints.
import { GraphBuilder, createTrainer } from '@ganglion/core';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';
import { expect, it } from 'vitest';
import { benchCompiledTraining } from './bench.js';

it('times compiled training steps on a fixed batch', async () => {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const h = g.node('lstm', new LSTM({ units: 8 }), g.node('embed', new Embedding({ vocabSize: 10, dim: 4 }), ids));
  const logits = g.node('head', new Dense({ units: 10 }), h);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  const feeds = {
    ids: { data: Int32Array.from({ length: 12 }, (_, i) => i % 10), shape: [2, 6] },
    labels: { data: Int32Array.from({ length: 12 }, (_, i) => (i + 1) % 10), shape: [2, 6] },
  };
  const trainer = createTrainer({
    optimizer: 'adam',
    lr: 1e-2,
    clipping: 'global-norm',
    clippingOptions: { maxNorm: 1 },
  });
  const r = await benchCompiledTraining({ graph: g.build(), setup: trainer, feeds, warmup: 1, measured: 3 });
  expect(r.stepMs).toHaveLength(3);
  expect(r.losses).toHaveLength(4);
  expect(r.losses[3]).toBeLessThan(r.losses[0]);
  expect(r.tokensPerSecond).toBeCloseTo((12 * 1000) / r.medianMs, 6);
  expect(r.rewrites.matMulSums).toBe(1); // the recurrent weight's per-step products
});
