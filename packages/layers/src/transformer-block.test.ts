// TransformerBlock is LayerNorm -> MultiHeadAttention -> residual -> LayerNorm -> FeedForward ->
// residual: the same numbers as that graph of the standalone layers on the same weights, in full
// runs and in streaming. Grouped-query attention equals full attention whose key/value heads are
// repeated (Hugging Face's repeat_kv), a Llama block (RMSNorm, GQA, RoPE, SwiGLU) equals a direct
// float64 computation of Llama's decoder layer, and streams as it runs whole. And the
// configuration errors people meet first.
import { describe, expect, test } from 'vitest';
import {
  type Graph,
  GraphBuilder,
  type Layer,
  ReferenceBackend,
  Runtime,
  type Tensor,
  tensor,
  uniformValues,
  withBackend,
} from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Add, FeedForward, LayerNorm, MultiHeadAttention, TransformerBlock } from './index.js';

/** One node `layer` fed by x [batch, time, dim] (and `extra` inputs), output y. */
function alone(layer: Layer, dim: number, extra: Record<string, (string | number)[]> = {}): Graph {
  const g = new GraphBuilder();
  const inputs = { x: g.input('x', ['batch', 'time', dim]), ...mapValues(extra, (shape, k) => g.input(k, shape)) };
  g.output('y', g.node('layer', layer, inputs));
  return g.build();
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A, k: string) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));
}

/** Every parameter of a runtime set to random values (also the ones/zeros norms start with). */
function randomize(runtime: Runtime, seed: number): void {
  for (const key of runtime.params.keys()) {
    const t = runtime.params.get(key);
    runtime.params.set(key, tensor(uniformValues(seed + key.length, t.size, -0.5, 0.5), t.shape));
  }
}

/** Rows [from, to) of a [rows, cols] matrix (or of a vector, cols = 1). */
const rowsOf = (data: ArrayLike<number>, cols: number, from: number, to: number) =>
  Array.from(data).slice(from * cols, to * cols);

/**
 * Llama's decoder layer (transformers' LlamaDecoderLayer, eager attention) in plain float64 loops:
 * RMSNorm, q/k/v projections, rotate-half RoPE, repeat_kv, causal softmax, o_proj, residual,
 * RMSNorm, down(silu(gate x) · up x), residual. x [batch, time, dim] flat.
 */
function llamaLayer(
  x: Float64Array,
  [batch, time, dim]: number[],
  o: { heads: number; kvHeads: number; hidden: number; eps: number; base: number },
  p: Record<string, ArrayLike<number>>,
): number[] {
  const hd = dim / o.heads;
  const g = o.heads / o.kvHeads;
  const matVec = (w: ArrayLike<number>, v: number[], rows: number, row0 = 0) =>
    Array.from({ length: rows }, (_, r) => v.reduce((s, vi, c) => s + w[(row0 + r) * v.length + c] * vi, 0));
  const rms = (v: number[], w: ArrayLike<number>) => {
    const scale = 1 / Math.sqrt(v.reduce((s, a) => s + a * a, 0) / v.length + o.eps);
    return v.map((a, i) => a * scale * w[i]);
  };
  const rope = (v: number[], pos: number) =>
    v.map((a, i) => {
      const j = i % (hd / 2);
      const angle = pos * o.base ** ((-2 * j) / hd);
      const rotated = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];
      return a * Math.cos(angle) + rotated * Math.sin(angle);
    });
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const xs = Array.from({ length: time }, (_, t) =>
      Array.from(x.slice((b * time + t) * dim, (b * time + t + 1) * dim)),
    );
    const n1 = xs.map((v) => rms(v, p['ln1.weight']));
    const w = p['attn.in_proj_weight'];
    const head = (t: number, row0: number) => matVec(w, n1[t], hd, row0);
    const attended = xs.map(() => new Array<number>(dim).fill(0));
    for (let h = 0; h < o.heads; h++) {
      const kv = Math.floor(h / g); // repeat_kv: query head h reads key/value head h // g
      const q = n1.map((_, t) => rope(head(t, h * hd), t));
      const k = n1.map((_, t) => rope(head(t, dim + kv * hd), t));
      const v = n1.map((_, t) => head(t, dim + o.kvHeads * hd + kv * hd));
      for (let t = 0; t < time; t++) {
        const scores = k.slice(0, t + 1).map((ks) => ks.reduce((s, a, i) => s + a * q[t][i], 0) / Math.sqrt(hd));
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((s, a) => s + a, 0);
        for (let i = 0; i < hd; i++) attended[t][h * hd + i] = e.reduce((s, a, j) => s + (a / z) * v[j][i], 0);
      }
    }
    for (let t = 0; t < time; t++) {
      const h1 = matVec(p['attn.out_proj_weight'], attended[t], dim).map((a, i) => a + xs[t][i]);
      const n2 = rms(h1, p['ln2.weight']);
      const gate = matVec(p['ff.gate_weight'], n2, o.hidden);
      const up = matVec(p['ff.up_weight'], n2, o.hidden);
      const act = gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]);
      out.push(...matVec(p['ff.down_weight'], act, dim).map((a, i) => a + h1[i]));
    }
  }
  return out;
}

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

  test("a Llama block (rms, GQA, RoPE, swiglu, no bias) equals Llama's decoder layer in float64", () => {
    withBackend(new ReferenceBackend(), () => {
      const o = { heads: 4, kvHeads: 2, hidden: 12, eps: 1e-6, base: 500 };
      const block = new TransformerBlock({
        heads: o.heads,
        kvHeads: o.kvHeads,
        causal: true,
        rope: true,
        ropeBase: o.base,
        norm: 'rms',
        eps: o.eps,
        activation: 'swiglu',
        hidden: o.hidden,
        bias: false,
      });
      const runtime = new Runtime(alone(block, 8));
      randomize(runtime, 3);
      expect(runtime.params.keys().sort()).toEqual(
        [
          'ln1.weight',
          'attn.in_proj_weight',
          'attn.out_proj_weight',
          'ln2.weight',
          'ff.gate_weight',
          'ff.up_weight',
          'ff.down_weight',
        ]
          .map((k) => `layer.${k}`)
          .sort(),
      );
      expect(runtime.params.get('layer.attn.in_proj_weight').shape).toEqual([(4 + 2 * 2) * 2, 8]);
      const p = Object.fromEntries(runtime.params.keys().map((k) => [k.slice(6), runtime.params.get(k).dataSync()]));
      const xs = uniformValues(4, 2 * 5 * 8, -2, 2);
      const y = runtime.forward({ x: tensor(xs, [2, 5, 8]) }).y;
      expect(maxRelError(y.dataSync(), llamaLayer(xs, [2, 5, 8], o, p))).toBeLessThan(1e-10);
    });
  });

  test.each([
    ['causal, RoPE, padding mask', { causal: true, rope: true }, true],
    ['cross-attention', {}, false],
  ] as const)(
    'GQA (4 query heads over 2 key/value heads) equals full attention over repeated key/value heads: %s',
    (_, opts, masked) => {
      withBackend(new ReferenceBackend(), () => {
        const [dim, heads, kvHeads, hd] = [8, 4, 2, 2];
        const cross = !('causal' in opts);
        const extra: Record<string, (string | number)[]> = {
          ...(masked ? { mask: ['batch', 'time'] } : {}),
          ...(cross ? { kv: ['batch', 3, dim] } : {}),
        };
        const gqa = new Runtime(alone(new MultiHeadAttention({ dim, heads, kvHeads, ...opts }), dim, extra));
        const full = new Runtime(alone(new MultiHeadAttention({ dim, heads, ...opts }), dim, extra));
        randomize(gqa, 5);
        // Full k/v rows: query head h gets key/value head h // (heads / kvHeads), as repeat_kv.
        const repeated = (key: string, cols: number) => {
          const d = gqa.params.get(key).dataSync();
          const block = (start: number) =>
            Array.from({ length: heads }, (__, h) => {
              const from = start + Math.floor(h / (heads / kvHeads)) * hd;
              return rowsOf(d, cols, from, from + hd);
            }).flat();
          return [...rowsOf(d, cols, 0, dim), ...block(dim), ...block(dim + kvHeads * hd)];
        };
        full.params.set('layer.in_proj_weight', tensor(repeated('layer.in_proj_weight', dim), [3 * dim, dim]));
        full.params.set('layer.in_proj_bias', tensor(repeated('layer.in_proj_bias', 1), [3 * dim]));
        for (const k of ['layer.out_proj_weight', 'layer.out_proj_bias']) full.params.set(k, gqa.params.get(k), false);
        const feeds: Record<string, Tensor> = { x: tensor(uniformValues(6, 2 * 4 * dim, -2, 2), [2, 4, dim]) };
        if (masked) feeds.mask = tensor([1, 1, 0, 1, 1, 0, 1, 1], [2, 4]);
        if (cross) feeds.kv = tensor(uniformValues(7, 2 * 3 * dim, -2, 2), [2, 3, dim]);
        const a = gqa.forward(feeds).y.dataSync();
        expect(maxRelError(a, full.forward(feeds).y.dataSync())).toBeLessThan(1e-12);
      });
    },
  );

  test.each([
    ['no window', undefined],
    ['window 3', 3],
  ])('a GQA block streamed in waves equals the full run, its cache holding the key/value heads: %s', (_, window) => {
    withBackend(new ReferenceBackend(), () => {
      const opts = {
        heads: 4,
        kvHeads: 1,
        causal: true,
        rope: true,
        norm: 'rms',
        activation: 'swiglu',
        window,
      } as const;
      const block = new TransformerBlock(opts);
      const runtime = new Runtime(alone(block, 8), { seed: 2 });
      randomize(runtime, 9);
      const xs = uniformValues(8, 2 * 6 * 8, -2, 2);
      const whole = runtime.forward({ x: tensor(xs, [2, 6, 8]) }).y.dataSync();
      let position = 0;
      for (const n of [3, 1, 2]) {
        const wave = Array.from({ length: 2 }, (__, b) => rowsOf(xs, 8, b * 6 + position, b * 6 + position + n)).flat();
        const y = runtime.forward({ x: tensor(wave, [2, n, 8]) }, { stream: true, position }).y.dataSync();
        const want = Array.from({ length: 2 }, (__, b) =>
          rowsOf(whole, 8, b * 6 + position, b * 6 + position + n),
        ).flat();
        expect(maxRelError(y, want), `wave at ${position}`).toBeLessThan(1e-12);
        position += n;
      }
      // The cache this layer returns: [batch, kvHeads, time, headDim], the window's last entries.
      const params = Object.fromEntries(runtime.params.keys().map((k) => [k.slice(6), runtime.params.get(k)]));
      const context = { step: 0, training: false, position: 0, seed: 0, correlationId: '' };
      const result = block.forward({ x: tensor(xs, [2, 6, 8]) }, params, {
        node: 'layer',
        training: false,
        context,
        nextSeed: () => 0,
      });
      expect('state' in result && result.state?.key.shape).toEqual([2, 1, Math.min(6, window ?? 6), 2]);
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
    expect(() => new TransformerBlock({ heads: 4, kvHeads: 3 })).toThrow(
      /TransformerBlock: kvHeads must be a positive integer that divides heads \(4\), got 3/,
    );
    expect(() => new MultiHeadAttention({ dim: 8, heads: 2, kvHeads: 0 })).toThrow(/kvHeads must be .* got 0/);
    expect(() => new TransformerBlock({ heads: 2, norm: 'batch' as 'rms' })).toThrow(
      /norm must be 'layer' or 'rms', got "batch"/,
    );
    expect(() => new FeedForward({ activation: 'relu' as 'gelu' })).toThrow(
      /FeedForward: activation must be one of gelu, gelu-tanh, swiglu, got "relu"/,
    );
  });
});
