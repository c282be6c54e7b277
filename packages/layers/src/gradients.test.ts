// Every layer: the gradients the backward wave delivers (input gradients and ParamGrads) against
// float64 finite differences on the reference backend.
import { describe, expect, test } from 'vitest';
import type { InputSpec } from '@ganglion/core/testing';
import type { Layer } from '@ganglion/core';
import { Add, Concat, Dense, Dropout, Embedding, Flatten, GELU, GRU, LSTM, MSE, ReLU, Reshape, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh, builtinLayers } from './index.js';
import { checkLayerGradients } from './testing/layer-gradcheck.js';

const f = (...shape: number[]): InputSpec => ({ shape });
const away = (...shape: number[]): InputSpec => ({ shape, fill: 'away' });
const ids = (vocab: number, ...shape: number[]): InputSpec => ({ shape, dtype: 'int32', fill: { ints: [0, vocab] } });

const cases: [string, Layer, Record<string, InputSpec>, { probe?: string[]; training?: boolean }?][] = [
  ['Dense', new Dense({ units: 3 }), { x: f(2, 4) }],
  ['Dense (relu, 3-d input)', new Dense({ units: 3, activation: 'relu', biasInit: { kind: 'constant', value: 0.5 } }), { x: f(2, 2, 4) }],
  ['Dense (no bias, tanh)', new Dense({ units: 2, activation: 'tanh', useBias: false }), { x: f(3, 4) }],
  ['Embedding', new Embedding({ vocabSize: 5, dim: 3 }), { ids: ids(5, 2, 4) }],
  ['LSTM', new LSTM({ units: 3 }), { x: f(2, 4, 2) }],
  ['LSTM (initial state wired)', new LSTM({ units: 3 }), { x: f(2, 3, 2), h0: f(2, 3), c0: f(2, 3) }],
  ['GRU', new GRU({ units: 3 }), { x: f(2, 4, 2) }],
  ['GRU (initial state wired)', new GRU({ units: 2 }), { x: f(3, 2, 3), h0: f(3, 2) }],
  ['ReLU', new ReLU(), { x: away(3, 4) }],
  ['Tanh', new Tanh(), { x: f(3, 4) }],
  ['Sigmoid', new Sigmoid(), { x: f(3, 4) }],
  ['GELU', new GELU(), { x: f(3, 4) }],
  ['GELU (tanh)', new GELU({ approximate: 'tanh' }), { x: f(3, 4) }],
  ['Softmax', new Softmax({ axis: 1 }), { x: f(2, 3, 4) }],
  ['Dropout (training)', new Dropout({ rate: 0.4 }), { x: f(4, 5) }, { training: true }],
  ['Add (broadcast)', new Add(), { a: f(2, 3), b: f(3) }],
  ['Concat', new Concat({ axis: 1, count: 3 }), { x0: f(2, 1), x1: f(2, 3), x2: f(2, 2) }],
  ['Reshape', new Reshape({ shape: [2, -1] }), { x: f(2, 3, 2) }],
  ['Flatten', new Flatten(), { x: f(2, 3, 2) }],
  ['SoftmaxCrossEntropy', new SoftmaxCrossEntropy(), { logits: f(2, 3, 5), labels: ids(5, 2, 3) }],
  ['SoftmaxCrossEntropy (mask)', new SoftmaxCrossEntropy(), { logits: f(2, 3, 5), labels: ids(5, 2, 3), mask: { shape: [2, 3], fill: { values: [1, 1, 0, 1, 0, 1] } } }],
  ['MSE', new MSE(), { prediction: f(3, 2), target: f(3, 2) }],
];

describe('layer gradients through the backward wave (reference backend, float64)', () => {
  test.each(cases)('%s', (_, layer, inputs, opts) => {
    const checks = checkLayerGradients(layer, inputs, opts);
    expect(checks.length).toBeGreaterThan(0);
    for (const c of checks) {
      expect(Math.abs(c.numeric), c.what).toBeGreaterThan(1e-4);
      expect(c.relError, `${c.what}: numeric ${c.numeric} vs analytic ${c.analytic}`).toBeLessThan(1e-6);
    }
  });

  test('every built-in layer is checked', () => {
    const checked = new Set(cases.map(([, l]) => l.kind));
    expect(builtinLayers.map((l) => l.kind).filter((k) => !checked.has(k))).toEqual([]);
  });
});
