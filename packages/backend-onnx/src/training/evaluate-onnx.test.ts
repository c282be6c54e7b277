// The validation loss of a compiled (onnxruntime) run against the eager one and against a hand
// computation: an Embedding -> Dense -> SoftmaxCrossEntropy model with fixed weights, validation
// batches of 3, 3 and 1 sequences. The mean cross-entropy per example is computed in float64 by
// hand; the eager Trainer.evaluate (reference backend, float64) and evaluateOnnx (float32) both
// give it.
import {
  type Graph,
  GraphBuilder,
  ReferenceBackend,
  Runtime,
  arrayDataset,
  createTrainer,
  setBackend,
  tensor,
} from '@ganglion/core';
import { Dense, Embedding, SoftmaxCrossEntropy } from '@ganglion/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateOnnx } from './evaluate-onnx.js';

const V = 5;
const D = 3;
const T = 4;
const N = 7;

beforeAll(() => setBackend(new ReferenceBackend()));

function model(): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const logits = g.node('head', new Dense({ units: V }), g.node('embed', new Embedding({ vocabSize: V, dim: D }), ids));
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

// Fixed weights, sequences and labels from simple formulas.
const embed = Array.from({ length: V * D }, (_, i) => Math.sin(i + 1));
const kernel = Array.from({ length: D * V }, (_, i) => Math.cos(2 * i + 1));
const bias = Array.from({ length: V }, (_, i) => 0.1 * i - 0.2);
const ids = Array.from({ length: N * T }, (_, i) => (i * 3 + (i >> 2)) % V);
const labels = Array.from({ length: N * T }, (_, i) => (i * 2 + 1 + (i % 3)) % V);

/** Cross-entropy of each sequence (mean over its T tokens), in float64. */
function sequenceLosses(): number[] {
  return Array.from({ length: N }, (_, n) => {
    let sum = 0;
    for (let t = 0; t < T; t++) {
      const id = ids[n * T + t];
      const logits = Array.from({ length: V }, (_, v) => {
        let z = bias[v];
        for (let d = 0; d < D; d++) z += embed[id * D + d] * kernel[d * V + v];
        return z;
      });
      const max = Math.max(...logits);
      const logSumExp = max + Math.log(logits.reduce((a, z) => a + Math.exp(z - max), 0));
      sum += logSumExp - logits[labels[n * T + t]];
    }
    return sum / T;
  });
}

describe('evaluateOnnx', () => {
  it('equals the mean cross-entropy per sequence by hand, and the eager Trainer.evaluate', async () => {
    const graph = model();
    const runtime = new Runtime(graph, { seed: 1 });
    runtime.params.set('embed.weight', tensor(embed, [V, D]));
    runtime.params.set('head.kernel', tensor(kernel, [D, V]));
    runtime.params.set('head.bias', tensor(bias, [V]));
    const data = () =>
      arrayDataset(
        { ids: tensor(ids, [N, T], 'int32'), labels: tensor(labels, [N, T], 'int32') },
        { batchSize: 3, shuffle: false },
      );

    const perSequence = sequenceLosses();
    const byHand = perSequence.reduce((a, b) => a + b, 0) / N;
    const eager = await createTrainer().evaluate(runtime, data());
    const compiled = await evaluateOnnx(graph, runtime.params, data());
    expect(Math.abs(eager - byHand)).toBeLessThan(1e-12);
    expect(Math.abs(compiled - byHand)).toBeLessThan(1e-5);
    expect(Math.abs(compiled - eager)).toBeLessThan(1e-5);
    // A mean over the three batches is another number, well outside the tolerances above (the short
    // batch would count three times).
    const perBatch = (mean(perSequence.slice(0, 3)) + mean(perSequence.slice(3, 6)) + perSequence[6]) / 3;
    expect(Math.abs(perBatch - byHand)).toBeGreaterThan(2e-4);
  });
});

function mean(v: readonly number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
