// Composites: values against their formulas, gradients against finite differences (they get their
// gradients for free from the primitives, and this checks that claim).
import { describe, expect, test } from 'vitest';
import { tensor } from '../creation.js';
import { checkGradients, makeInput } from '../testing/index.js';
import type { Tensor } from '../tensor.js';
import { gelu, geluTanh, silu, softplus, square } from './activations.js';
import { meanSquaredError, oneHot, softmaxCrossEntropy } from './losses.js';
import { flatten, squeeze, unsqueeze } from './shape-ops.js';

const erfRef = (x: number) => {
  // Independent erf: 1 - erfc by A&S 7.1.26 is too coarse; integrate exp(-t^2) with Simpson instead.
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
};

describe('composites', () => {
  test('gelu, geluTanh, silu, softplus values', () => {
    const xs = [-3, -0.5, 0, 0.7, 2.5];
    const t = tensor(xs);
    gelu(t)
      .toArray()
      .forEach((v, i) => expect(v).toBeCloseTo(0.5 * xs[i] * (1 + erfRef(xs[i] / Math.SQRT2)), 10));
    geluTanh(t)
      .toArray()
      .forEach((v, i) => {
        const x = xs[i];
        expect(v).toBeCloseTo(0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 12);
      });
    silu(t)
      .toArray()
      .forEach((v, i) => expect(v).toBeCloseTo(xs[i] / (1 + Math.exp(-xs[i])), 12));
    softplus(tensor([-800, 0, 800]))
      .toArray()
      .forEach((v, i) => expect(v).toBeCloseTo([0, Math.log(2), 800][i], 12));
    expect(square(tensor([3])).toArray()).toEqual([9]);
  });

  test('softmaxCrossEntropy equals -mean log softmax at the labels, with and without mask', () => {
    const logits = [
      [2, 1, 0.1],
      [0.5, 2.5, -1],
    ];
    const labels = [0, 2];
    const nll = logits.map((row, i) => {
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      return lse - row[labels[i]];
    });
    const L = tensor(logits);
    const y = tensor(labels, [2], 'int32');
    expect(softmaxCrossEntropy(L, y).item()).toBeCloseTo((nll[0] + nll[1]) / 2, 12);
    expect(softmaxCrossEntropy(L, y, tensor([0, 1])).item()).toBeCloseTo(nll[1], 12);
  });

  test('oneHot, mse, shape helpers', () => {
    expect(oneHot(tensor([2, 0], [2], 'int32'), 3).toArray()).toEqual([0, 0, 1, 1, 0, 0]);
    expect(meanSquaredError(tensor([1, 2]), tensor([0, 4])).item()).toBe(2.5);
    expect(unsqueeze(tensor([1, 2]), 0).shape).toEqual([1, 2]);
    expect(squeeze(tensor([[1, 2]]), 0).shape).toEqual([2]);
    expect(
      flatten(
        tensor([
          [
            [1, 2],
            [3, 4],
          ],
        ]),
      ).shape,
    ).toEqual([1, 4]);
  });

  const gradCases: [string, (...xs: Tensor[]) => Tensor, Tensor[]][] = [
    ['gelu', gelu, [makeInput({ shape: [3, 4] }, 1)]],
    ['geluTanh', geluTanh, [makeInput({ shape: [3, 4] }, 2)]],
    ['silu', silu, [makeInput({ shape: [3, 4] }, 3)]],
    ['softplus', softplus, [makeInput({ shape: [3, 4] }, 4)]],
    [
      'softmaxCrossEntropy',
      (l) => softmaxCrossEntropy(l, tensor([1, 0, 4], [3], 'int32')),
      [makeInput({ shape: [3, 5] }, 5)],
    ],
    [
      'softmaxCrossEntropy masked',
      (l) =>
        softmaxCrossEntropy(
          l,
          tensor(
            [
              [1, 2],
              [0, 3],
            ],
            [2, 2],
            'int32',
          ),
          tensor([
            [1, 0],
            [1, 1],
          ]),
        ),
      [makeInput({ shape: [2, 2, 4] }, 6)],
    ],
    ['meanSquaredError', meanSquaredError, [makeInput({ shape: [4, 2] }, 7), makeInput({ shape: [4, 2] }, 8)]],
  ];
  test.each(gradCases)('gradient check: %s', (_, fn, xs) => {
    for (const r of checkGradients(
      fn,
      xs,
      xs.map((__, i) => i),
    )) {
      expect(Math.abs(r.numeric)).toBeGreaterThan(1e-4);
      expect(r.relError).toBeLessThan(1e-6);
    }
  });
});
