// MultiHeadAttention's mask semantics: a padded key carries no information, the mask port gets no
// gradient (it only selects), and a query whose keys are all padded stays finite.
import { describe, expect, test } from 'vitest';
import {
  GraphBuilder,
  ReferenceBackend,
  Runtime,
  type Tensor,
  tensor,
  uniformValues,
  withBackend,
} from '@ganglion/core';
import { MultiHeadAttention, visibility } from './index.js';
import { WeightedSum } from './testing/layer-gradcheck.js';

/** x [2, 3, 4] and mask [2, 3] -> attention -> a weighted sum (a scalar loss). */
function attentionLoss(layer: MultiHeadAttention): Runtime {
  const g = new GraphBuilder();
  const x = g.input('x', [2, 3, 4]);
  const mask = g.input('mask', [2, 3]);
  const y = g.node('attn', layer, { x, mask });
  g.output('y', y);
  g.output('loss', g.node('loss', new WeightedSum({ seed: 5 }), y));
  return new Runtime(g.build(), { seed: 1 });
}

const xs = uniformValues(1, 2 * 3 * 4, -1, 1);
const rows = (t: Tensor, batch: number, times: number[]) =>
  times.flatMap((s) => [...t.dataSync().slice((batch * 3 + s) * 4, (batch * 3 + s + 1) * 4)]);

describe('MultiHeadAttention masks', () => {
  test('a padded key carries no information to the other positions', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = attentionLoss(new MultiHeadAttention({ dim: 4, heads: 2 }));
      const mask = tensor([1, 1, 0, 1, 0, 1], [2, 3]);
      const y1 = runtime.forward({ x: tensor(xs, [2, 3, 4]), mask }).y;
      const changed = Float64Array.from(xs);
      for (let f = 0; f < 4; f++) changed[2 * 4 + f] += 5; // batch 0, time 2: a padded key
      const y2 = runtime.forward({ x: tensor(changed, [2, 3, 4]), mask }).y;
      rows(y2, 0, [0, 1]).forEach((v, i) => expect(v).toBeCloseTo(rows(y1, 0, [0, 1])[i], 12));
      expect(rows(y2, 1, [0, 1, 2])).toEqual(rows(y1, 1, [0, 1, 2]));
    });
  });

  test('the mask port gets a zero gradient, though it is a float input', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = attentionLoss(new MultiHeadAttention({ dim: 4, heads: 2, causal: true }));
      const r = runtime.trainStep(
        { x: tensor(xs, [2, 3, 4]), mask: tensor([1, 1, 0, 1, 0, 1], [2, 3]) },
        { loss: 'loss' },
      );
      expect([...r.inputGrads.get('mask')!.dataSync()]).toEqual([0, 0, 0, 0, 0, 0]);
      expect(Math.max(...[...r.inputGrads.get('x')!.dataSync()].map(Math.abs))).toBeGreaterThan(1e-3);
    });
  });

  test('a query whose keys are all padded gets a finite output (no NaN), in outputs and gradients', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = attentionLoss(new MultiHeadAttention({ dim: 4, heads: 2 }));
      const r = runtime.trainStep(
        { x: tensor(xs, [2, 3, 4]), mask: tensor([0, 0, 0, 1, 1, 1], [2, 3]) },
        { loss: 'loss' },
      );
      expect([...r.outputs.y.dataSync()].every(Number.isFinite)).toBe(true);
      for (const g of r.paramGrads.values()) expect([...g.dataSync()].every(Number.isFinite)).toBe(true);
    });
  });

  test('visibility: causal and window masks offset by the cache length', () => {
    // 2 new queries after 3 cached keys, window 3: query 0 is key 3, query 1 is key 4.
    expect([...visibility(2, 5, true, 3)!]).toEqual([0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect([...visibility(2, 5, true)!]).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
    expect(visibility(1, 5, true)).toBeUndefined(); // one query after the cache sees everything
    expect(visibility(3, 3, false)).toBeUndefined();
  });
});
