// Every layer: the gradients the backward wave delivers (input gradients and ParamGrads) against
// float64 finite differences on the reference backend.
import { describe, expect, test } from 'vitest';
import type { InputSpec } from '@ganglion/core/testing';
import type { Layer } from '@ganglion/core';
import {
  Add,
  Bidirectional,
  Concat,
  Dense,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  GRU,
  LSTM,
  MSE,
  ReLU,
  Reshape,
  Sigmoid,
  Softmax,
  SoftmaxCrossEntropy,
  Tanh,
  builtinLayers,
} from './index.js';
import {
  FeedForward,
  LayerNorm,
  Linear,
  MultiHeadAttention,
  PositionEmbedding,
  RMSNorm,
  RotaryEmbedding,
  SinusoidalPositionEmbedding,
  TiedHead,
  TransformerBlock,
} from './index.js';
import { Seq2SeqAttention, TransformerDecoderBlock } from './index.js';
import { checkLayerGradients } from './testing/layer-gradcheck.js';

const f = (...shape: number[]): InputSpec => ({ shape });
const away = (...shape: number[]): InputSpec => ({ shape, fill: 'away' });
const ids = (vocab: number, ...shape: number[]): InputSpec => ({ shape, dtype: 'int32', fill: { ints: [0, vocab] } });
/** A padding mask (1 = keep): no gradient to check, it only selects. */
const keep = (shape: number[], values: number[]): InputSpec => ({ shape, fill: { values }, noGrad: true });

/** An adapter that acts from the start (B random, not zero), so A gets a gradient too. */
const lora = (rank: number, alpha: number, targets: ('q' | 'k' | 'v' | 'o')[], dropout?: number) =>
  ({ rank, alpha, targets, init: 'random', ...(dropout ? { dropout } : {}) }) as const;

const cases: [string, Layer, Record<string, InputSpec>, { probe?: string[]; training?: boolean }?][] = [
  ['Dense', new Dense({ units: 3 }), { x: f(2, 4) }],
  [
    'Dense (relu, 3-d input)',
    new Dense({ units: 3, activation: 'relu', biasInit: { kind: 'constant', value: 0.5 } }),
    { x: f(2, 2, 4) },
  ],
  ['Dense (no bias, tanh)', new Dense({ units: 2, activation: 'tanh', useBias: false }), { x: f(3, 4) }],
  ['Embedding', new Embedding({ vocabSize: 5, dim: 3 }), { ids: ids(5, 2, 4) }],
  ['LSTM', new LSTM({ units: 3 }), { x: f(2, 4, 2) }],
  ['LSTM (initial state wired)', new LSTM({ units: 3 }), { x: f(2, 3, 2), h0: f(2, 3), c0: f(2, 3) }],
  ['GRU', new GRU({ units: 3 }), { x: f(2, 4, 2) }],
  ['GRU (initial state wired)', new GRU({ units: 2 }), { x: f(3, 2, 3), h0: f(3, 2) }],
  [
    'LSTM (mask: padding and a hole, initial state)',
    new LSTM({ units: 3 }),
    { x: f(2, 4, 2), h0: f(2, 3), c0: f(2, 3), mask: keep([2, 4], [1, 1, 1, 0, 1, 0, 1, 0]) },
  ],
  ['GRU (mask)', new GRU({ units: 3 }), { x: f(3, 3, 2), mask: keep([3, 3], [1, 1, 1, 1, 0, 0, 1, 1, 0]) }],
  [
    'LSTM (dropout, recurrentDropout, training)',
    new LSTM({ units: 3, dropout: 0.3, recurrentDropout: 0.4 }),
    { x: f(3, 3, 4) },
    { training: true },
  ],
  [
    'GRU (dropout, recurrentDropout, mask, training)',
    new GRU({ units: 4, dropout: 0.3, recurrentDropout: 0.4 }),
    { x: f(3, 3, 4), h0: f(3, 4), mask: keep([3, 3], [1, 1, 1, 1, 1, 0, 1, 0, 0]) },
    { training: true },
  ],
  [
    'Bidirectional (LSTM, concat, mask)',
    new Bidirectional({ cell: 'lstm', units: 3 }),
    { x: f(2, 4, 2), mask: keep([2, 4], [1, 1, 1, 1, 1, 1, 0, 0]) },
  ],
  ['Bidirectional (GRU, sum)', new Bidirectional({ cell: 'gru', units: 2, merge: 'sum' }), { x: f(2, 3, 3) }],
  [
    'Bidirectional (GRU, concat, mask, dropout, recurrentDropout, training)',
    new Bidirectional({ cell: 'gru', units: 3, dropout: 0.3, recurrentDropout: 0.3 }),
    { x: f(3, 3, 4), mask: keep([3, 3], [1, 1, 1, 1, 1, 0, 1, 0, 0]) },
    { training: true },
  ],
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
  [
    'SoftmaxCrossEntropy (mask)',
    new SoftmaxCrossEntropy(),
    { logits: f(2, 3, 5), labels: ids(5, 2, 3), mask: { shape: [2, 3], fill: { values: [1, 1, 0, 1, 0, 1] } } },
  ],
  ['MSE', new MSE(), { prediction: f(3, 2), target: f(3, 2) }],
  ['Embedding (outputWeight)', new Embedding({ vocabSize: 5, dim: 3, outputWeight: true }), { ids: ids(5, 2, 4) }],
  ['LayerNorm', new LayerNorm(), { x: f(2, 3, 4) }],
  ['LayerNorm (no affine)', new LayerNorm({ affine: false, eps: 1e-3 }), { x: f(3, 5) }],
  ['RMSNorm', new RMSNorm(), { x: f(2, 3, 4) }],
  ['MultiHeadAttention', new MultiHeadAttention({ dim: 4, heads: 2 }), { x: f(2, 3, 4) }],
  [
    'MultiHeadAttention (causal, 3 heads)',
    new MultiHeadAttention({ dim: 6, heads: 3, causal: true }),
    { x: f(2, 4, 6) },
  ],
  [
    'MultiHeadAttention (padding mask)',
    new MultiHeadAttention({ dim: 4, heads: 2 }),
    { x: f(2, 4, 4), mask: keep([2, 4], [1, 1, 1, 0, 1, 1, 0, 0]) },
  ],
  [
    'MultiHeadAttention (causal + padding mask)',
    new MultiHeadAttention({ dim: 4, heads: 1, causal: true }),
    { x: f(2, 4, 4), mask: keep([2, 4], [1, 1, 0, 1, 1, 1, 1, 0]) },
  ],
  [
    'MultiHeadAttention (cross-attention)',
    new MultiHeadAttention({ dim: 4, heads: 2 }),
    { x: f(2, 3, 4), kv: f(2, 5, 4) },
  ],
  [
    'MultiHeadAttention (cross-attention, padding mask)',
    new MultiHeadAttention({ dim: 4, heads: 2 }),
    { x: f(2, 2, 4), kv: f(2, 3, 4), mask: keep([2, 3], [1, 1, 0, 1, 0, 1]) },
  ],
  [
    'MultiHeadAttention (RoPE, causal)',
    new MultiHeadAttention({ dim: 8, heads: 2, causal: true, rope: true }),
    { x: f(2, 4, 8) },
  ],
  [
    'MultiHeadAttention (window 2, no bias)',
    new MultiHeadAttention({ dim: 4, heads: 2, causal: true, window: 2, bias: false }),
    { x: f(2, 4, 4) },
  ],
  [
    'MultiHeadAttention (dropout, training)',
    new MultiHeadAttention({ dim: 4, heads: 2, dropout: 0.3 }),
    { x: f(2, 3, 4) },
    { training: true },
  ],
  ['RotaryEmbedding (2 heads)', new RotaryEmbedding({ heads: 2 }), { x: f(2, 3, 8) }],
  ['PositionEmbedding', new PositionEmbedding({ maxLen: 6, dim: 4 }), { x: f(2, 3, 4) }],
  ['SinusoidalPositionEmbedding', new SinusoidalPositionEmbedding(), { x: f(2, 3, 4) }],
  ['FeedForward', new FeedForward({ hidden: 6 }), { x: f(2, 3, 4) }],
  [
    'FeedForward (gelu-tanh, dropout, training)',
    new FeedForward({ hidden: 5, activation: 'gelu-tanh', dropout: 0.25 }),
    { x: f(3, 4) },
    { training: true },
  ],
  [
    'TransformerBlock (causal, RoPE)',
    new TransformerBlock({ heads: 2, causal: true, rope: true, hidden: 12 }),
    { x: f(2, 4, 8) },
  ],
  [
    'TransformerBlock (padding mask)',
    new TransformerBlock({ heads: 2, hidden: 6 }),
    { x: f(2, 3, 4), mask: keep([2, 3], [1, 1, 0, 1, 0, 1]) },
  ],
  ['TiedHead', new TiedHead(), { x: f(2, 3, 4), weight: f(5, 4) }],
  ['TiedHead (bias)', new TiedHead({ bias: true }), { x: f(2, 4), weight: f(3, 4) }],
  // Few rows (as when generating): linear computes (W xᵀ)ᵀ instead of x Wᵀ.
  ['TiedHead (one row)', new TiedHead({ bias: true }), { x: f(1, 1, 4), weight: f(9, 4) }],
  ['FeedForward (two rows)', new FeedForward({ hidden: 32 }), { x: f(2, 8) }],
  [
    'MultiHeadAttention (few rows, causal, RoPE)',
    new MultiHeadAttention({ dim: 8, heads: 2, causal: true, rope: true }),
    { x: f(1, 3, 8) },
  ],
  [
    'MultiHeadAttention (few rows, cross-attention)',
    new MultiHeadAttention({ dim: 8, heads: 4 }),
    { x: f(1, 2, 8), kv: f(1, 3, 8) },
  ],
  [
    'MultiHeadAttention (GQA: 4 heads over 2 key/value heads, causal, RoPE)',
    new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 2, causal: true, rope: true }),
    { x: f(2, 3, 8) },
  ],
  [
    'MultiHeadAttention (GQA 3 over 1, cross-attention, padding mask)',
    new MultiHeadAttention({ dim: 6, heads: 3, kvHeads: 1 }),
    { x: f(2, 2, 6), kv: f(2, 4, 6), mask: keep([2, 4], [1, 1, 0, 1, 1, 0, 1, 1]) },
  ],
  [
    'MultiHeadAttention (GQA, few rows, window 2, no bias)',
    new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 2, causal: true, window: 2, bias: false }),
    { x: f(1, 3, 8) },
  ],
  ['FeedForward (swiglu)', new FeedForward({ hidden: 6, activation: 'swiglu' }), { x: f(2, 3, 4) }],
  [
    'TransformerBlock (Llama: rms, swiglu, GQA, RoPE base 500, no bias)',
    new TransformerBlock({
      heads: 4,
      kvHeads: 2,
      causal: true,
      rope: true,
      ropeBase: 500,
      norm: 'rms',
      eps: 1e-6,
      activation: 'swiglu',
      hidden: 10,
      bias: false,
    }),
    { x: f(2, 4, 8) },
  ],
  ['Linear', new Linear({ units: 3, lora: { rank: 2, alpha: 4, init: 'random' } }), { x: f(2, 3, 5) }],
  ['Linear (no adapter)', new Linear({ units: 3 }), { x: f(4, 5) }],
  [
    'Linear (no bias, lora dropout, training)',
    new Linear({ units: 3, bias: false, lora: { rank: 2, alpha: 3, dropout: 0.3, init: 'random' } }),
    { x: f(3, 4) },
    { training: true },
  ],
  [
    'MultiHeadAttention (GQA, LoRA on q, k, v, o)',
    new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 2, causal: true, lora: lora(2, 4, ['q', 'k', 'v', 'o']) }),
    { x: f(2, 3, 8) },
  ],
  [
    'MultiHeadAttention (LoRA on k, v, few rows, cross-attention)',
    new MultiHeadAttention({ dim: 8, heads: 2, lora: lora(3, 2, ['v', 'k']) }),
    { x: f(1, 2, 8), kv: f(1, 3, 8) },
  ],
  [
    'TransformerBlock (rms, GQA, LoRA on q, v with dropout, training)',
    new TransformerBlock({
      heads: 4,
      kvHeads: 1,
      causal: true,
      rope: true,
      norm: 'rms',
      activation: 'swiglu',
      hidden: 6,
      bias: false,
      lora: lora(2, 5, ['q', 'v'], 0.2),
    }),
    { x: f(2, 3, 8) },
    { training: true },
  ],
  [
    'SoftmaxCrossEntropy (ignoreIndex -1)',
    new SoftmaxCrossEntropy({ ignoreIndex: -1 }),
    { logits: f(2, 3, 5), labels: { shape: [2, 3], dtype: 'int32', fill: { values: [0, -1, 4, 2, -1, 1] } } },
  ],
  [
    'SoftmaxCrossEntropy (ignoreIndex 2, mask)',
    new SoftmaxCrossEntropy({ ignoreIndex: 2 }),
    {
      logits: f(2, 3, 4),
      labels: { shape: [2, 3], dtype: 'int32', fill: { values: [2, 0, 3, 1, 2, 3] } },
      mask: keep([2, 3], [1, 1, 0, 1, 1, 1]),
    },
  ],
  [
    'Seq2SeqAttention (dot, source mask, weights)',
    new Seq2SeqAttention({ score: 'dot', weights: true }),
    { query: f(2, 3, 4), memory: f(2, 4, 4), mask: keep([2, 4], [1, 1, 1, 0, 1, 1, 0, 0]) },
  ],
  ['Seq2SeqAttention (general)', new Seq2SeqAttention({ score: 'general' }), { query: f(2, 2, 3), memory: f(2, 3, 5) }],
  [
    'Seq2SeqAttention (additive, source mask, weights)',
    new Seq2SeqAttention({ score: 'additive', units: 4, weights: true }),
    { query: f(2, 3, 3), memory: f(2, 4, 5), mask: keep([2, 4], [1, 1, 0, 0, 1, 1, 1, 0]) },
  ],
  [
    'TransformerDecoderBlock (source mask)',
    new TransformerDecoderBlock({ heads: 2, hidden: 6 }),
    { x: f(2, 3, 4), memory: f(2, 4, 4), mask: keep([2, 4], [1, 1, 1, 0, 1, 1, 0, 0]) },
  ],
  [
    'TransformerDecoderBlock (rms, swiglu, RoPE, GQA, no bias, dropout, training)',
    new TransformerDecoderBlock({
      heads: 4,
      kvHeads: 2,
      rope: true,
      norm: 'rms',
      activation: 'swiglu',
      hidden: 6,
      bias: false,
      dropout: 0.2,
    }),
    { x: f(2, 3, 8), memory: f(2, 2, 8) },
    { training: true },
  ],
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
