// Cached streaming generation with a small GPT on the reference backend: one token per wave, the
// KV caches carried as node state, must give the logits of re-running the whole prefix; and the
// sliding window's semantics (see multi-head-attention.ts) hold in streaming and in full runs.
import { describe, expect, test } from 'vitest';
import {
  type Graph,
  GraphBuilder,
  ReferenceBackend,
  Runtime,
  type Tensor,
  ofKind,
  tensor,
  tidy,
  uniformAt,
  withBackend,
} from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Embedding, LayerNorm, MultiHeadAttention, PositionEmbedding, TiedHead, TransformerBlock } from './index.js';

const VOCAB = 11;

function gpt(o: {
  blocks: number;
  dim: number;
  heads: number;
  rope?: boolean;
  maxLen?: number;
  window?: number;
}): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const embed = g.node(
    'embed',
    new Embedding({ vocabSize: VOCAB, dim: o.dim, outputWeight: true, init: { kind: 'normal', std: 0.5 } }),
    ids,
  );
  let h = o.maxLen
    ? g.node('pos', new PositionEmbedding({ maxLen: o.maxLen, dim: o.dim, init: { kind: 'normal', std: 0.5 } }), embed)
    : embed;
  for (let i = 0; i < o.blocks; i++)
    h = g.node(
      `block${i + 1}`,
      new TransformerBlock({ heads: o.heads, causal: true, rope: o.rope, window: o.window }),
      h,
    );
  g.output(
    'logits',
    g.node('head', new TiedHead({ bias: true }), {
      x: g.node('ln_f', new LayerNorm(), h),
      weight: embed.out('weight'),
    }),
  );
  return g.build();
}

const ids = (tokens: readonly number[]) => tensor(tokens, [1, tokens.length], 'int32');
const lastRow = (logits: Tensor) => [...logits.dataSync().slice(-VOCAB)];

/** Sample from logits with a seeded uniform draw, so the sequence wanders over the vocabulary. */
function pick(logits: number[], draw: number): number {
  const m = Math.max(...logits);
  const p = logits.map((l) => Math.exp(l - m));
  let u = uniformAt(99, draw) * p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) if ((u -= p[i]) < 0) return i;
  return p.length - 1;
}

/**
 * Generate `steps` tokens after `prompt`, streaming (the prompt as one wave, then one token per
 * wave at its position); `reference(tokens)` gives the logits the last token should get.
 * Returns the largest error over all steps.
 */
function streamAgainst(
  runtime: Runtime,
  prompt: number[],
  steps: number,
  reference: (tokens: number[]) => number[],
): number {
  const tokens = [...prompt];
  let worst = 0;
  runtime.resetState();
  let streamed = tidy(() => lastRow(runtime.forward({ ids: ids(prompt) }, { stream: true, position: 0 }).logits));
  for (let i = 0; i < steps; i++) {
    worst = Math.max(
      worst,
      maxRelError(
        streamed,
        tidy(() => reference(tokens)),
      ),
    );
    const next = pick(streamed, i);
    tokens.push(next);
    streamed = tidy(() =>
      lastRow(runtime.forward({ ids: ids([next]) }, { stream: true, position: tokens.length - 1 }).logits),
    );
  }
  return worst;
}

describe('cached streaming generation (reference backend)', () => {
  test('one token per wave with the KV cache equals re-running the prefix, 100 steps (2 blocks, width 32, RoPE)', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(gpt({ blocks: 2, dim: 32, heads: 4, rope: true }), { seed: 1 });
      const full = (tokens: number[]) => lastRow(runtime.forward({ ids: ids(tokens) }).logits);
      expect(streamAgainst(runtime, [1, 2, 3], 100, full)).toBeLessThan(1e-5);
    });
  });

  test('the same with learned position embeddings', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(gpt({ blocks: 2, dim: 16, heads: 2, maxLen: 48 }), { seed: 2 });
      const full = (tokens: number[]) => lastRow(runtime.forward({ ids: ids(tokens) }).logits);
      expect(streamAgainst(runtime, [4, 5], 40, full)).toBeLessThan(1e-5);
      // Position 48 does not exist: a clear error, not a silent wrap.
      runtime.resetState();
      expect(() => runtime.forward({ ids: ids([1]) }, { stream: true, position: 48 })).toThrow(
        /PositionEmbedding "pos": positions 48..48 go past maxLen 48/,
      );
    });
  });

  test('the cache is node state: [batch, heads, t, headDim], growing by one per wave', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(gpt({ blocks: 1, dim: 8, heads: 2, rope: true }));
      const shapes: number[][] = [];
      const sub = runtime.messages$
        .pipe(ofKind('activation'))
        .subscribe((m) => m.from.node === 'block1' && m.state && shapes.push([...m.state.key.shape] as number[]));
      runtime.forward({ ids: ids([1, 2, 3]) }, { stream: true, position: 0 });
      runtime.forward({ ids: ids([4]) }, { stream: true, position: 3 });
      runtime.forward({ ids: ids([5]) }, { stream: true, position: 4 });
      sub.unsubscribe();
      expect(shapes).toEqual([
        [1, 2, 3, 4],
        [1, 2, 4, 4],
        [1, 2, 5, 4],
      ]);
    });
  });
});

describe('sliding window (window w: query p sees keys p - w + 1 .. p, in every layer)', () => {
  test('streamed with a cache bounded to w entries equals the full run with the same window (2 blocks)', () => {
    withBackend(new ReferenceBackend(), () => {
      const w = 6;
      const runtime = new Runtime(gpt({ blocks: 2, dim: 16, heads: 2, rope: true, window: w }), { seed: 3 });
      const cacheSizes = new Set<number>();
      const sub = runtime.messages$
        .pipe(ofKind('activation'))
        .subscribe((m) => m.state?.key && cacheSizes.add(m.state.key.shape[2] as number));
      // The full run over every token (banded causal mask): row p is what streaming must give.
      const full = (tokens: number[]) => lastRow(runtime.forward({ ids: ids(tokens) }).logits);
      expect(streamAgainst(runtime, [1, 2, 3, 4], 30, full)).toBeLessThan(1e-5);
      sub.unsubscribe();
      expect(Math.max(...cacheSizes)).toBe(w);
    });
  });

  test('with one block and RoPE, the streamed logits equal a fresh run over the last w tokens', () => {
    withBackend(new ReferenceBackend(), () => {
      const w = 5;
      const runtime = new Runtime(gpt({ blocks: 1, dim: 16, heads: 2, rope: true, window: w }), { seed: 4 });
      // A fresh run starts the window at position 0: RoPE scores depend only on distances.
      const lastW = (tokens: number[]) => lastRow(runtime.forward({ ids: ids(tokens.slice(-w)) }).logits);
      expect(streamAgainst(runtime, [7, 8], 30, lastW)).toBeLessThan(1e-5);
    });
  });

  test('with two blocks, information flows past the window through the layers (so a last-w re-run differs)', () => {
    withBackend(new ReferenceBackend(), () => {
      const w = 4;
      const runtime = new Runtime(gpt({ blocks: 2, dim: 16, heads: 2, rope: true, window: w }), { seed: 5 });
      const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      const a = lastRow(runtime.forward({ ids: ids(tokens) }).logits);
      const b = lastRow(runtime.forward({ ids: ids(tokens.slice(-w)) }).logits);
      expect(maxRelError(a, b)).toBeGreaterThan(1e-3);
      // Tokens more than 2 · (w - 1) back cannot matter.
      const c = lastRow(runtime.forward({ ids: ids([0, 0, 0, ...tokens.slice(3)]) }).logits);
      expect(maxRelError(a, c)).toBeLessThan(1e-12);
    });
  });
});

describe('streaming MultiHeadAttention with a padding mask', () => {
  test('chunks of 3, 1 and 2 tokens equal one full wave; the cached keys keep their padding flags', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const x = g.input('x', ['batch', 'time', 4]);
      const mask = g.input('mask', ['batch', 'time']);
      g.output(
        'y',
        g.node('attn', new MultiHeadAttention({ dim: 4, heads: 2, causal: true, rope: true }), { x, mask }),
      );
      const runtime = new Runtime(g.build(), { seed: 6 });
      const xs = Array.from({ length: 2 * 6 * 4 }, (_, i) => Math.sin(i * 1.7));
      const ms = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1];
      const chunk = (from: number, to: number) => ({
        x: tensor(Array.from({ length: 2 }, (_, b) => xs.slice((b * 6 + from) * 4, (b * 6 + to) * 4)).flat(), [
          2,
          to - from,
          4,
        ]),
        mask: tensor(Array.from({ length: 2 }, (_, b) => ms.slice(b * 6 + from, b * 6 + to)).flat(), [2, to - from]),
      });
      const whole = [...runtime.forward(chunk(0, 6)).y.dataSync()];
      const parts = [
        [0, 3],
        [3, 4],
        [4, 6],
      ].map(([a, b]) => runtime.forward(chunk(a, b), { stream: true, position: a }).y);
      const streamed = Array.from({ length: 2 }, (_, b) =>
        parts.flatMap((p) => [...p.dataSync()].slice((b * p.size) / 2, ((b + 1) * p.size) / 2)),
      ).flat();
      expect(maxRelError(streamed, whole)).toBeLessThan(1e-12);
    });
  });
});

describe('stream positions', () => {
  test('a wave that does not start where the cache ends is a clear error', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(gpt({ blocks: 1, dim: 8, heads: 2, rope: true }));
      runtime.forward({ ids: ids([1, 2, 3]) }, { stream: true, position: 0 });
      expect(() => runtime.forward({ ids: ids([4]) }, { stream: true })).toThrow(
        /TransformerBlock "block1": this wave starts at stream position 0, but the cached keys end at position 3: pass forward\(\.\.\., \{ stream: true, position: 3 \}\) to continue the stream, or call resetState\(\) to start a new one/,
      );
      runtime.resetState();
      expect(() => runtime.forward({ ids: ids([4]) }, { stream: true })).not.toThrow();
    });
  });
});
