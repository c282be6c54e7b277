// TransformerDecoderBlock against torch.nn.TransformerDecoderLayer(norm_first=True) in float64
// (fixtures/make_seq2seq_fixtures.py: causal self-attention, cross-attention with and without a
// memory key padding mask); streaming one token per wave, the KV cache carried as node state,
// equals the teacher-forced run of the whole target; padded memory rows change nothing; and the
// errors people meet first.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  type Graph,
  GraphBuilder,
  ReferenceBackend,
  Runtime,
  type Tensor,
  concat,
  slice,
  tensor,
  uniformValues,
  withBackend,
} from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { TransformerDecoderBlock, type TransformerDecoderBlockConfig } from './transformer-decoder-block.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  heads: number;
  hidden: number;
  params: Record<string, T>;
  inputs: { x: T; memory: T; mask: T };
  outputs: { y: T };
}

const cases: Case[] = JSON.parse(
  readFileSync(new URL('../fixtures/transformer-decoder.json', import.meta.url), 'utf8'),
).cases;

/** One TransformerDecoderBlock node `dec` fed x, memory and (optionally) mask. */
function blockGraph(config: TransformerDecoderBlockConfig, dim: number, withMask = true): Graph {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 'time', dim]);
  const memory = g.input('memory', ['batch', 'src', dim]);
  const mask = withMask ? g.input('mask', ['batch', 'src']) : undefined;
  g.output('y', g.node('dec', new TransformerDecoderBlock(config), { x, memory, mask }));
  return g.build();
}

const ref = () => new ReferenceBackend();
const rand = (seed: number, shape: number[]) =>
  tensor(
    uniformValues(
      seed,
      shape.reduce((a, b) => a * b, 1),
      -2,
      2,
    ),
    shape,
  );

describe('TransformerDecoderBlock', () => {
  test.each(cases.map((c) => [c.name, c] as const))(
    'equals torch.nn.TransformerDecoderLayer(norm_first=True): %s',
    (_, c) => {
      withBackend(ref(), () => {
        const runtime = new Runtime(blockGraph({ heads: c.heads, hidden: c.hidden }, c.inputs.x.shape[2]));
        expect(runtime.params.keys().sort()).toEqual(
          Object.keys(c.params)
            .map((k) => `dec.${k}`)
            .sort(),
        );
        for (const [k, v] of Object.entries(c.params)) runtime.params.set(`dec.${k}`, tensor(v.data, v.shape));
        const feeds = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tensor(v.data, v.shape)]));
        const { y } = runtime.forward(feeds);
        expect(y.shape).toEqual(c.outputs.y.shape);
        expect(maxRelError(y.dataSync(), c.outputs.y.data)).toBeLessThan(1e-10);
      });
    },
  );

  test.each([
    ['layer norm', {}],
    ['rms norm, swiglu, RoPE, GQA', { norm: 'rms', activation: 'swiglu', rope: true, kvHeads: 1 }],
  ] as const)('streaming one token per wave equals the teacher-forced run (%s)', (_, extra) => {
    withBackend(ref(), () => {
      const [batch, time, src, dim] = [2, 5, 4, 8];
      const runtime = new Runtime(blockGraph({ heads: 2, hidden: 12, ...extra }, dim), { seed: 3 });
      const x = rand(1, [batch, time, dim]);
      const memory = rand(2, [batch, src, dim]);
      const mask = tensor([1, 1, 1, 0, 1, 1, 0, 0], [batch, src]);
      const full = runtime.forward({ x, memory, mask }).y;
      // A prefix of two tokens as one wave, then one token per wave; memory and mask every wave.
      const waves: [number, number][] = [
        [0, 2],
        [2, 3],
        [3, 4],
        [4, 5],
      ];
      const parts: Tensor[] = waves.map(
        ([from, to]) =>
          runtime.forward({ x: slice(x, [from], [to], [1]), memory, mask }, { stream: true, position: from }).y,
      );
      expect(maxRelError(concat(parts, 1).dataSync(), full.dataSync())).toBeLessThan(1e-12);
      // Without a reset, the next wave must continue the stream where the cache ends.
      expect(() =>
        runtime.forward({ x: slice(x, [0], [1], [1]), memory, mask }, { stream: true, position: 0 }),
      ).toThrow(/cached keys end at position 5/);
    });
  });

  test('padded memory rows (mask 0) do not change the output', () => {
    withBackend(ref(), () => {
      const runtime = new Runtime(blockGraph({ heads: 2 }, 8), { seed: 5 });
      const x = rand(1, [2, 3, 8]);
      const mask = tensor([1, 1, 0, 0, 1, 1, 1, 0], [2, 4]);
      const a = runtime.forward({ x, memory: rand(2, [2, 4, 8]), mask }).y.dataSync();
      // Same kept rows, other values in the padded ones.
      const m1 = rand(2, [2, 4, 8]).dataSync();
      const m2 = rand(9, [2, 4, 8]).dataSync();
      const keep = [1, 1, 0, 0, 1, 1, 1, 0];
      const mixed = tensor(
        m1.map((v, i) => (keep[Math.floor(i / 8)] ? v : m2[i])),
        [2, 4, 8],
      );
      const b = runtime.forward({ x, memory: mixed, mask }).y.dataSync();
      expect(maxRelError(b, a)).toBe(0);
      // Without the mask the padded rows do count.
      const unmasked = new Runtime(blockGraph({ heads: 2 }, 8, false), { params: runtime.params });
      expect(maxRelError(unmasked.forward({ x, memory: mixed }).y.dataSync(), a)).toBeGreaterThan(1e-3);
    });
  });

  test('errors name the port and what was expected', () => {
    const g = new GraphBuilder();
    g.output(
      'y',
      g.node('dec', new TransformerDecoderBlock({ heads: 2 }), {
        x: g.input('x', ['batch', 'time', 8]),
        memory: g.input('memory', ['batch', 'src', 6]),
      }),
    );
    expect(() => g.build()).toThrow(/input "memory" has shape \[batch, src, 6\], expected \[batch, \?, 8\]/);
    expect(() => new TransformerDecoderBlock({ heads: 2, norm: 'batch' as 'rms' })).toThrow(
      /TransformerDecoderBlock: norm must be 'layer' or 'rms', got "batch"/,
    );
  });
});
