// Tied input/output embeddings: the Embedding's weight, output on its `weight` port, is the
// TiedHead's projection; the backward wave brings the embedding node gradients on both ports and
// its tape sums them into the one parameter. Checked against finite differences of that parameter.
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, tensor, withBackend } from '@ganglion/core';
import { Embedding, LayerNorm, SoftmaxCrossEntropy, TiedHead } from './index.js';
import { checkGraphGradients } from './testing/layer-gradcheck.js';

describe('tied embeddings', () => {
  test('Embedding(outputWeight) -> LayerNorm -> TiedHead: the gradient of the shared weight', () => {
    const checks = checkGraphGradients(
      (g, { ids }) => {
        const embed = g.node('embed', new Embedding({ vocabSize: 6, dim: 4, outputWeight: true }), ids);
        const h = g.node('norm', new LayerNorm(), embed);
        return [g.node('head', new TiedHead({ bias: true }), { x: h, weight: embed.out('weight') })];
      },
      { ids: { shape: [2, 3], dtype: 'int32', fill: { ints: [0, 6] } } },
    );
    expect(checks.map((c) => c.what)).toContain('param embed.weight');
    for (const c of checks) {
      expect(Math.abs(c.numeric), c.what).toBeGreaterThan(1e-4);
      expect(c.relError, `${c.what}: numeric ${c.numeric} vs analytic ${c.analytic}`).toBeLessThan(1e-6);
    }
  });

  test('both ports contribute: the tied gradient is the sum of the lookup and the projection gradients', () => {
    withBackend(new ReferenceBackend(), () => {
      // The same model with untied copies of one table: its two gradients must add up to the tied one.
      const build = (tied: boolean) => {
        const g = new GraphBuilder();
        const ids = g.input('ids', [2, 3], 'int32');
        const labels = g.input('labels', [2, 3], 'int32');
        const embed = g.node('embed', new Embedding({ vocabSize: 5, dim: 4, outputWeight: true }), ids);
        const out = tied
          ? embed.out('weight')
          : g.node('out', new Embedding({ vocabSize: 5, dim: 4, outputWeight: true }), ids).out('weight');
        const logits = g.node('head', new TiedHead(), { x: g.node('norm', new LayerNorm(), embed), weight: out });
        g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
        return g.build();
      };
      const tied = new Runtime(build(true), { seed: 1 });
      const untied = new Runtime(build(false), { seed: 1 });
      untied.params.set('embed.weight', tied.params.get('embed.weight'), false);
      untied.params.set('out.weight', tied.params.get('embed.weight'), false);
      const feeds = {
        ids: tensor([0, 1, 2, 3, 4, 1], [2, 3], 'int32'),
        labels: tensor([1, 2, 3, 4, 0, 0], [2, 3], 'int32'),
      };
      const t = tied.trainStep(feeds, { loss: 'loss' });
      const u = untied.trainStep(feeds, { loss: 'loss' });
      expect(t.loss).toBeCloseTo(u.loss, 12);
      const lookup = u.paramGrads.get('embed.weight')!.dataSync();
      const projection = u.paramGrads.get('out.weight')!.dataSync();
      const sum = t.paramGrads.get('embed.weight')!.dataSync();
      lookup.forEach((g, i) => expect(sum[i]).toBeCloseTo(g + projection[i], 12));
      expect(Math.max(...[...lookup].map(Math.abs))).toBeGreaterThan(1e-3);
      expect(Math.max(...[...projection].map(Math.abs))).toBeGreaterThan(1e-3);
    });
  });

  test('Embedding without outputWeight keeps its one output port', () => {
    const sig = new Embedding({ vocabSize: 5, dim: 3 }).signature({
      ids: { shape: ['batch', 'time'], dtype: 'int32' },
    });
    expect(sig.outputs.map((o) => o.name)).toEqual(['y']);
  });

  test('TiedHead names a mismatched width', () => {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 8]);
    const w = g.input('w', [5, 4]);
    g.output('y', g.node('head', new TiedHead(), { x, weight: w }));
    expect(() => g.build()).toThrow(/TiedHead "head": input "x" has 8 features, but input "weight" rows have 4/);
  });
});
