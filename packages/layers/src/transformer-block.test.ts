// TransformerBlock is LayerNorm -> MultiHeadAttention -> residual -> LayerNorm -> FeedForward ->
// residual: the same numbers as that graph of the standalone layers on the same weights, in full
// runs and in streaming. And the configuration errors people meet first.
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, tensor, uniformValues, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Add, FeedForward, LayerNorm, MultiHeadAttention, TransformerBlock } from './index.js';

describe('TransformerBlock', () => {
  test('equals the graph of its parts, in a full run and streamed', () => {
    withBackend(new ReferenceBackend(), () => {
      const opts = { heads: 2, causal: true, rope: true } as const;
      const blockGraph = new GraphBuilder();
      blockGraph.output(
        'y',
        blockGraph.node(
          'block',
          new TransformerBlock({ ...opts, hidden: 10 }),
          blockGraph.input('x', ['batch', 'time', 8]),
        ),
      );
      const parts = new GraphBuilder();
      const x = parts.input('x', ['batch', 'time', 8]);
      const h = parts.node(
        'res1',
        new Add(),
        x,
        parts.node('attn', new MultiHeadAttention({ dim: 8, ...opts }), parts.node('ln1', new LayerNorm(), x)),
      );
      parts.output(
        'y',
        parts.node(
          'res2',
          new Add(),
          h,
          parts.node('ff', new FeedForward({ hidden: 10 }), parts.node('ln2', new LayerNorm(), h)),
        ),
      );
      const block = new Runtime(blockGraph.build(), { seed: 1 });
      const composed = new Runtime(parts.build(), { seed: 2 });
      for (const key of block.params.keys()) {
        const t = block.params.get(key);
        // Random values, also for the ones/zeros LayerNorm starts with.
        block.params.set(key, tensor(uniformValues(key.length, t.size, -0.5, 0.5), t.shape));
        composed.params.set(key.replace(/^block\./, ''), block.params.get(key), false);
      }
      const xs = tensor(uniformValues(7, 2 * 5 * 8, -2, 2), [2, 5, 8]);
      expect(maxRelError(block.forward({ x: xs }).y.dataSync(), composed.forward({ x: xs }).y.dataSync())).toBeLessThan(
        1e-12,
      );
      const chunks = [
        tensor(uniformValues(8, 2 * 3 * 8, -2, 2), [2, 3, 8]),
        tensor(uniformValues(9, 2 * 8, -2, 2), [2, 1, 8]),
      ];
      chunks.forEach((c, i) => {
        const a = block.forward({ x: c }, { stream: true, position: 3 * i }).y;
        const b = composed.forward({ x: c }, { stream: true, position: 3 * i }).y;
        expect(maxRelError(a.dataSync(), b.dataSync())).toBeLessThan(1e-12);
      });
    });
  });

  test.each([
    [
      'heads that do not divide the width',
      () => new TransformerBlock({ heads: 3 }),
      /TransformerBlock "b": input "x" has 8 features, which do not split into 3 heads/,
    ],
    [
      'an odd head size with RoPE',
      () => new TransformerBlock({ heads: 8, rope: true }),
      /rope needs an even head size, got 8 features \/ 8 heads = 1/,
    ],
    [
      'causal cross-attention',
      () => new MultiHeadAttention({ dim: 8, heads: 2, causal: true }),
      /input "kv" is wired \(cross-attention\), but causal only apply to self-attention/,
    ],
  ])('a clear error for %s', (_, make, message) => {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 'time', 8]);
    const layer = make();
    g.output('y', g.node('b', layer, layer instanceof MultiHeadAttention ? { x, kv: x } : { x }));
    expect(() => g.build()).toThrow(message);
  });

  test('bad settings fail at construction', () => {
    expect(() => new MultiHeadAttention({ dim: 8, heads: 0 })).toThrow(/heads must be a positive integer, got 0/);
    expect(() => new TransformerBlock({ heads: 2, window: 0 })).toThrow(/window must be a positive integer, got 0/);
    expect(() => new TransformerBlock({ heads: 2, dropout: 1 })).toThrow(/dropout must be in \[0, 1\), got 1/);
  });
});
