// LoRA: Linear and an attention's adapters against the update written out in float64 loops,
// PEFT's initialization (a new adapter changes nothing), dropout in training only, and mergeLora:
// the merged graph has no adapters left and computes the adapted graph's logits.
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
import { type GptOptions, Linear, MultiHeadAttention, TransformerBlock, gpt, mergeLora } from './index.js';

function alone(layer: Layer, shape: (string | number)[]): Graph {
  const g = new GraphBuilder();
  g.output('y', g.node('layer', layer, g.input('x', shape)));
  return g.build();
}

/** Every parameter random (B included: a trained adapter, not PEFT's zero start). */
function randomize(runtime: Runtime, seed: number): void {
  for (const key of runtime.params.keys()) {
    const t = runtime.params.get(key);
    runtime.params.set(key, tensor(uniformValues(seed + key.length, t.size, -0.5, 0.5), t.shape));
  }
}

/** x [rows, in] @ w [out, in]ᵀ in float64 loops. */
function timesT(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, inF: number, out: number): number[] {
  const y: number[] = [];
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y.push(s);
    }
  return y;
}

const param = (r: Runtime, k: string) => r.params.get(`layer.${k}`).dataSync();

describe('Linear', () => {
  test('computes x Wᵀ + b + (alpha / rank) · x Aᵀ Bᵀ', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(alone(new Linear({ units: 3, lora: { rank: 2, alpha: 5 } }), [4, 6]));
      randomize(runtime, 1);
      const xs = uniformValues(2, 4 * 6, -2, 2);
      const base = timesT(xs, param(runtime, 'weight'), 4, 6, 3).map((v, i) => v + param(runtime, 'bias')[i % 3]);
      const down = timesT(xs, param(runtime, 'lora_A'), 4, 6, 2);
      const up = timesT(down, param(runtime, 'lora_B'), 4, 2, 3);
      const want = base.map((v, i) => v + (5 / 2) * up[i]);
      expect(maxRelError(runtime.forward({ x: tensor(xs, [4, 6]) }).y.dataSync(), want)).toBeLessThan(1e-12);
    });
  });

  test("starts as PEFT's adapters: A ~ U(±1/√in), B = 0, so the output is the base projection", () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(alone(new Linear({ units: 8, lora: { rank: 4, alpha: 8 } }), [3, 16]), {
        seed: 4,
      });
      const a = [...param(runtime, 'lora_A')];
      expect(runtime.params.get('layer.lora_A').shape).toEqual([4, 16]);
      expect(runtime.params.get('layer.lora_B').shape).toEqual([8, 4]);
      expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(16));
      expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.5 / Math.sqrt(16));
      expect([...param(runtime, 'lora_B')].every((v) => v === 0)).toBe(true);
      const xs = uniformValues(5, 3 * 16, -2, 2);
      const base = timesT(xs, param(runtime, 'weight'), 3, 16, 8); // bias starts at zero
      expect(maxRelError(runtime.forward({ x: tensor(xs, [3, 16]) }).y.dataSync(), base)).toBeLessThan(1e-12);
    });
  });

  test('its dropout acts in training only', () => {
    withBackend(new ReferenceBackend(), () => {
      const lora = { rank: 2, alpha: 2, init: 'random' } as const;
      const dropped = new Runtime(alone(new Linear({ units: 4, lora: { ...lora, dropout: 0.5 } }), [6, 5]), {
        seed: 3,
      });
      const plain = new Runtime(alone(new Linear({ units: 4, lora }), [6, 5]), { seed: 3 });
      const x = tensor(uniformValues(6, 30, -2, 2), [6, 5]);
      const y = plain.forward({ x }).y.dataSync();
      expect(maxRelError(dropped.forward({ x }).y.dataSync(), y)).toBe(0);
      expect(maxRelError(dropped.forward({ x }, { training: true, seed: 7 }).y.dataSync(), y)).toBeGreaterThan(1e-3);
    });
  });
});

describe('attention adapters', () => {
  test('lora on k (GQA) equals attention whose k rows of in_proj_weight are Wk + (alpha / rank) · B A', () => {
    withBackend(new ReferenceBackend(), () => {
      const opts = { dim: 8, heads: 4, kvHeads: 2, causal: true, rope: true } as const;
      const lora = { rank: 3, alpha: 6, targets: ['k'] } as const;
      const adapted = new Runtime(alone(new MultiHeadAttention({ ...opts, lora }), ['batch', 'time', 8]));
      const plain = new Runtime(alone(new MultiHeadAttention(opts), ['batch', 'time', 8]));
      randomize(adapted, 2);
      expect(adapted.params.get('layer.lora_k_B').shape).toEqual([4, 3]); // kvHeads · headDim rows
      // W [16, 8]: q rows 0..7, k rows 8..11, v rows 12..15. B A [4, 8] by loops.
      const w = [...param(adapted, 'in_proj_weight')];
      const [a, b] = [param(adapted, 'lora_k_A'), param(adapted, 'lora_k_B')];
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 8; c++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += b[r * 3 + k] * a[k * 8 + c];
          w[(8 + r) * 8 + c] += 2 * s;
        }
      plain.params.set('layer.in_proj_weight', tensor(w, [16, 8]));
      for (const k of ['in_proj_bias', 'out_proj_weight', 'out_proj_bias'])
        plain.params.set(`layer.${k}`, adapted.params.get(`layer.${k}`), false);
      const x = tensor(uniformValues(3, 2 * 5 * 8, -2, 2), [2, 5, 8]);
      expect(maxRelError(adapted.forward({ x }).y.dataSync(), plain.forward({ x }).y.dataSync())).toBeLessThan(1e-12);
    });
  });

  test('clear errors for bad settings', () => {
    const block = (lora: unknown) => () =>
      new TransformerBlock({ heads: 2, lora: lora as { rank: number; alpha: number; targets: [] } });
    expect(block({ rank: 0, alpha: 1, targets: ['q'] })).toThrow(
      /TransformerBlock: lora.rank must be a positive integer, got 0/,
    );
    expect(block({ rank: 2, alpha: 1, targets: ['q', 'x'] })).toThrow(
      /lora.targets must be distinct projections among q, k, v, o, got \["q","x"\]/,
    );
    expect(block({ rank: 2, alpha: 1 })).toThrow(/lora.targets must list the projections to adapt/);
    expect(block({ rank: 2, alpha: 1, targets: ['v'], dropout: 1 })).toThrow(/lora.dropout must be in \[0, 1\), got 1/);
    expect(() => new Linear({ units: 0 })).toThrow(/Linear: units must be a positive integer, got 0/);
  });
});

describe('mergeLora', () => {
  const lora = { rank: 2, alpha: 3, dropout: 0.1, init: 'random', targets: ['q', 'k', 'v', 'o'] } as const;
  const families: [string, GptOptions][] = [
    [
      'Llama (GQA, rms, swiglu, untied head)',
      {
        dim: 16,
        heads: 4,
        kvHeads: 2,
        blocks: 2,
        context: 8,
        position: 'rope',
        ropeBase: 1000,
        norm: 'rms',
        activation: 'swiglu',
        hidden: 24,
        bias: false,
        tied: false,
        lora,
      },
    ],
    [
      'GPT-2 (learned positions, biases, tied head), q and v',
      {
        dim: 8,
        heads: 2,
        blocks: 2,
        context: 8,
        position: 'learned',
        activation: 'gelu-tanh',
        lora: { ...lora, targets: ['v', 'q'] },
      },
    ],
  ];

  test.each(families)('%s: the merged graph computes the adapted logits, without adapters', (_, options) => {
    withBackend(new ReferenceBackend(), () => {
      const graph = gpt(options)(11);
      const runtime = new Runtime(graph, { seed: 5 });
      const trained = runtime.params.get('block1.attn.lora_v_B');
      expect(Math.max(...[...trained.dataSync()].map(Math.abs))).toBeGreaterThan(0.05);
      const ids = tensor(
        uniformValues(8, 2 * 6).map((v) => Math.floor(v * 11)),
        [2, 6],
        'int32',
      );
      const labels = tensor(
        uniformValues(9, 2 * 6).map((v) => Math.floor(v * 11)),
        [2, 6],
        'int32',
      );
      const want = runtime.forward({ ids, labels }).logits.dataSync();

      const merged = mergeLora(graph, runtime.params);
      const { lora: __, ...plainOptions } = options;
      const plain = gpt(plainOptions)(11);
      expect(merged.params.keys().sort()).toEqual(
        plain
          .params()
          .map((p) => `${p.node}.${p.spec.name}`)
          .sort(),
      );
      expect(JSON.stringify(merged.graph.toJSON())).toEqual(JSON.stringify(plain.toJSON()));
      const got = new Runtime(merged.graph, { params: merged.params }).forward({ ids, labels }).logits.dataSync();
      expect(maxRelError(got, want)).toBeLessThan(1e-10);
      // The adapters did change the logits: merging is not a no-op.
      const base = new Runtime(plain, { params: withoutLora(runtime, plain) }).forward({ ids, labels }).logits;
      expect(maxRelError(base.dataSync(), want)).toBeGreaterThan(1e-3);
    });
  });

  test('a Linear becomes a plain Linear, and freezes outside the adapters stay', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const x = g.input('x', ['batch', 5]);
      const h = g.node('proj', new Linear({ units: 4, lora: { rank: 2, alpha: 2, init: 'random' } }), x);
      g.output('y', g.node('out', new Linear({ units: 3, bias: false }), h));
      const graph = g.build().freeze((key) => !key.includes('.lora_'));
      const runtime = new Runtime(graph, { seed: 6 });
      const xs = tensor(uniformValues(10, 15, -2, 2), [3, 5]);
      const want = runtime.forward({ x: xs }).y.dataSync();
      const merged = mergeLora(graph, runtime.params);
      expect(merged.graph.node('proj').layer).toBeInstanceOf(Linear);
      expect(merged.graph.node('proj').layer.config).toEqual({ units: 4 });
      expect(merged.params.keys()).toEqual(['proj.weight', 'proj.bias', 'out.weight']);
      expect(merged.graph.params().every((p) => p.spec.trainable === false)).toBe(true);
      const got = new Runtime(merged.graph, { params: merged.params }).forward({ x: xs }).y.dataSync();
      expect(maxRelError(got, want)).toBeLessThan(1e-12);
      // Unchanged parameters are shared, merged ones are new.
      expect(merged.params.get('out.weight')).toBe(runtime.params.get('out.weight'));
      expect(merged.params.get('proj.weight')).not.toBe(runtime.params.get('proj.weight'));
    });
  });
});

/** The adapted runtime's parameters minus the adapters, as a store of `plain`. */
function withoutLora(runtime: Runtime, plain: Graph) {
  const store = new Runtime(plain).params;
  for (const key of store.keys()) store.set(key, runtime.params.get(key) as Tensor, false);
  return store;
}
