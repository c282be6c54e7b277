// Seq2SeqAttention's three scores against the formulas of Luong et al. and Bahdanau et al.,
// computed by hand in float64 loops from the layer's parameters, with a source padding mask: the
// weights, the context vectors, and that padded sources get exactly zero weight. And the errors
// people meet first.
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, tensor, uniformValues, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { type AttentionScore, Seq2SeqAttention } from './seq2seq-attention.js';

const [B, T, S, D, E, U] = [2, 3, 4, 3, 5, 6]; // batch, tgtTime, srcTime, query width, memory width, units
const MASK = [1, 1, 1, 0, 1, 1, 0, 0];

/** Row r of a [rows, cols] matrix. */
const row = (m: ArrayLike<number>, cols: number, r: number) => Array.from(m).slice(r * cols, (r + 1) * cols);
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
/** W x for W [rows, cols] stored row-major. */
const matVec = (w: ArrayLike<number>, x: number[], rows: number) =>
  Array.from({ length: rows }, (_, r) => dot(row(w, x.length, r), x));

/** The scores of the papers, then a softmax over the unmasked sources, then Σ a m. */
function byHand(
  score: AttentionScore,
  q: Float64Array,
  m: Float64Array,
  p: Record<string, ArrayLike<number>>,
  width: number,
): { weights: number[]; context: number[] } {
  const weights: number[] = [];
  const context: number[] = [];
  for (let b = 0; b < B; b++) {
    const mem = Array.from({ length: S }, (_, s) => row(m, E, b * S + s));
    for (let t = 0; t < T; t++) {
      const h = row(q, width, b * T + t);
      const e = mem.map((ms) => {
        if (score === 'dot') return dot(h, ms);
        if (score === 'general') return dot(h, matVec(p.weight, ms, D));
        const wq = matVec(p.query_weight, h, U);
        const wm = matVec(p.memory_weight, ms, U);
        return dot(
          Array.from(p.v),
          wq.map((v, i) => Math.tanh(v + wm[i])),
        );
      });
      const kept = e.map((_, s) => MASK[b * S + s] === 1);
      const top = Math.max(...e.filter((_, s) => kept[s]));
      const ex = e.map((v, s) => (kept[s] ? Math.exp(v - top) : 0));
      const z = ex.reduce((a, v) => a + v, 0);
      const a = ex.map((v) => v / z);
      weights.push(...a);
      for (let k = 0; k < E; k++) context.push(a.reduce((acc, w, s) => acc + w * mem[s][k], 0));
    }
  }
  return { weights, context };
}

function run(score: AttentionScore, width = score === 'dot' ? E : D) {
  return withBackend(new ReferenceBackend(), () => {
    const g = new GraphBuilder();
    const layer = new Seq2SeqAttention({ score, weights: true, ...(score === 'additive' ? { units: U } : {}) });
    const node = g.node('attn', layer, {
      query: g.input('query', ['batch', 'tgt', width]),
      memory: g.input('memory', ['batch', 'src', E]),
      mask: g.input('mask', ['batch', 'src']),
    });
    g.output('y', node).output('weights', node.out('weights'));
    const runtime = new Runtime(g.build(), { seed: 4 });
    const q = uniformValues(1, B * T * width, -1, 1).map(Math.fround);
    const m = uniformValues(2, B * S * E, -1, 1).map(Math.fround);
    const out = runtime.forward({
      query: tensor(q, [B, T, width]),
      memory: tensor(m, [B, S, E]),
      mask: tensor(MASK, [B, S]),
    });
    const params = Object.fromEntries(
      runtime.params.entries().map(([k, v]) => [k.slice('attn.'.length), v.dataSync()]),
    );
    return { q, m, params, y: out.y, weights: out.weights };
  });
}

describe('Seq2SeqAttention', () => {
  test.each(['dot', 'general', 'additive'] as const)('%s score: weights and context as computed by hand', (score) => {
    const width = score === 'dot' ? E : D;
    const { q, m, params, y, weights } = run(score, width);
    const want = byHand(score, q, m, params, width);
    expect(y.shape).toEqual([B, T, E]);
    expect(weights.shape).toEqual([B, T, S]);
    expect(maxRelError(weights.dataSync(), want.weights)).toBeLessThan(1e-12);
    expect(maxRelError(y.dataSync(), want.context)).toBeLessThan(1e-12);
    // Padded sources (mask 0) get exactly zero weight.
    const w = weights.dataSync();
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let s = 0; s < S; s++) if (MASK[b * S + s] === 0) expect(w[(b * T + t) * S + s]).toBe(0);
  });

  test('parameters per score: none for dot, W for general, Wq, Wm, v for additive', () => {
    expect(Object.keys(run('dot').params)).toEqual([]);
    expect(Object.keys(run('general').params)).toEqual(['weight']);
    expect(Object.keys(run('additive').params).sort()).toEqual(['memory_weight', 'query_weight', 'v']);
  });

  test('configuration and shape errors name what was expected', () => {
    expect(() => new Seq2SeqAttention({ score: 'cosine' as AttentionScore })).toThrow(
      /score must be one of dot, general, additive, got "cosine"/,
    );
    expect(() => new Seq2SeqAttention({ score: 'dot', units: 4 })).toThrow(/units only applies to the 'additive'/);
    const g = new GraphBuilder();
    g.output(
      'y',
      g.node('attn', new Seq2SeqAttention({ score: 'dot' }), {
        query: g.input('query', ['batch', 'tgt', 4]),
        memory: g.input('memory', ['batch', 'src', 6]),
      }),
    );
    expect(() => g.build()).toThrow(/"query" has 4 features but "memory" has 6; the 'dot' score needs equal widths/);
  });
});
