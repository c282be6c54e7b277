// The BERT builder on a tiny size (reference backend, float64): every parameter's gradient from
// the backward wave against finite differences; the loss is the mean cross-entropy over the
// labelled positions only, recomputed from the logits by hand; attention sees both directions;
// the parameter count is the documented formula.
import { describe, expect, test } from 'vitest';
import { MLM_IGNORE, ReferenceBackend, Runtime, type Tensor, tensor, tidy, uniformValues } from '@ganglion/core';
import { bert } from './index.js';

const V = 7;
const T = 5;
const options = { dim: 4, heads: 2, blocks: 2, context: 6, hidden: 8 };
const backend = new ReferenceBackend();
const ids = tensor([5, 6, 2, 1, 0, 3, 3, 4, 6, 2], [2, T], 'int32', backend);
const L = MLM_IGNORE;
const labels = tensor([L, 2, L, L, 4, 1, L, L, 0, L], [2, T], 'int32', backend);

/** Mean negative log-likelihood of the labelled positions, in float64 from the logits. */
function maskedNll(logits: ArrayLike<number>, labelValues: readonly number[]): number {
  let sum = 0;
  let count = 0;
  labelValues.forEach((label, p) => {
    if (label === MLM_IGNORE) return;
    const row = Array.from({ length: V }, (_, c) => logits[p * V + c]);
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum += logZ - row[label];
    count++;
  });
  return sum / count;
}

describe('bert', () => {
  const graph = bert(options)(V);

  test('the loss is the mean cross-entropy over the labelled positions (by hand from the logits)', () => {
    const runtime = new Runtime(graph, { seed: 2, backend });
    tidy(() => {
      const out = runtime.forward({ ids, labels });
      expect(out.logits.shape).toEqual([2, T, V]);
      expect(out.loss.dataSync()[0]).toBeCloseTo(maskedNll(out.logits.dataSync(), labels.toArray()), 12);
    });
  });

  test('gradients of every parameter against finite differences', () => {
    const runtime = new Runtime(graph, { seed: 2, backend });
    tidy(() => {
      const keys = runtime.params.trainableKeys();
      expect(keys).toEqual(
        expect.arrayContaining(['embed.weight', 'pos.weight', 'mlm_dense.kernel', 'mlm_norm.weight', 'head.bias']),
      );
      const result = runtime.trainStep({ ids, labels }, { loss: 'loss' });
      const lossAt = () => tidy(() => runtime.forward({ ids, labels }).loss.dataSync()[0]);
      const eps = 1e-5;
      keys.forEach((key, k) => {
        const original: Tensor = runtime.params.get(key);
        const v = uniformValues(500 + k, original.size, -1, 1);
        const base = original.dataSync();
        const shifted = (s: number) => {
          runtime.params.set(
            key,
            tensor(
              base.map((x, j) => x + s * eps * v[j]),
              original.shape,
              'float32',
              backend,
            ),
            false,
          );
          const l = lossAt();
          runtime.params.set(key, original, false);
          return l;
        };
        const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
        const g = result.paramGrads.get(key)!.dataSync();
        let analytic = 0;
        for (let j = 0; j < g.length; j++) analytic += g[j] * v[j];
        expect(Math.abs(numeric), key).toBeGreaterThan(1e-5);
        expect(Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic)), key).toBeLessThan(1e-6);
      });
    });
  });

  test('bidirectional: a later token changes the logits at position 0', () => {
    const runtime = new Runtime(graph.subgraph(['logits']), { seed: 2, backend });
    tidy(() => {
      const first = (last: number) =>
        runtime
          .forward({ ids: tensor([5, 6, 2, 1, last], [1, T], 'int32', backend) })
          .logits.dataSync()
          .slice(0, V);
      const a = first(0);
      const b = first(3);
      expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeGreaterThan(1e-4);
    });
  });

  test('the parameter count is vocab·(dim + 1) + context·dim + blocks·(12·dim² + 13·dim) + dim² + 5·dim (hidden 4·dim)', () => {
    const [d, n, ctx, vocab] = [16, 3, 10, 50];
    const g = bert({ dim: d, heads: 2, blocks: n, context: ctx })(vocab);
    expect(g.paramCount()).toBe(vocab * (d + 1) + ctx * d + n * (12 * d * d + 13 * d) + d * d + 5 * d);
  });
});
