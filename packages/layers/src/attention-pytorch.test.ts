// MultiHeadAttention, LayerNorm and RMSNorm forward against PyTorch (float64) on the same weights:
// fixtures made by fixtures/make_attention_fixtures.py (torch.nn.MultiheadAttention with a causal
// mask, no mask, a key padding mask; torch.nn.LayerNorm; RMSNorm by its formula).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, type Layer, ReferenceBackend, Runtime, tensor, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { LayerNorm, MultiHeadAttention, RMSNorm } from './index.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  kind: 'mha' | 'layernorm' | 'rmsnorm';
  embed_dim?: number;
  num_heads?: number;
  causal?: boolean;
  eps?: number;
  params: Record<string, T>;
  inputs: Record<string, T>;
  outputs: { y: T };
}

const cases: Case[] = JSON.parse(readFileSync(new URL('../fixtures/attention.json', import.meta.url), 'utf8')).cases;
const ofKind = (kind: Case['kind']) => cases.filter((c) => c.kind === kind).map((c) => [c.name, c] as const);

/** Run `layer` on the fixture's x (and mask) with the fixture's parameters. */
function run(layer: Layer, c: Case, mask?: number[]): number[] {
  return withBackend(new ReferenceBackend(), () => {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 'time', c.inputs.x.shape[2]]);
    const m = mask && g.input('mask', ['batch', 'time']);
    g.output('y', g.node('layer', layer, m ? { x, mask: m } : { x }));
    const runtime = new Runtime(g.build());
    for (const [k, v] of Object.entries(c.params)) runtime.params.set(`layer.${k}`, tensor(v.data, v.shape));
    const feeds = {
      x: tensor(c.inputs.x.data, c.inputs.x.shape),
      ...(mask ? { mask: tensor(mask, c.inputs.key_padding_mask.shape) } : {}),
    };
    const { y } = runtime.forward(feeds);
    expect(y.shape).toEqual(c.outputs.y.shape);
    return [...y.dataSync()];
  });
}

describe('MultiHeadAttention equals torch.nn.MultiheadAttention', () => {
  test.each(ofKind('mha'))('%s', (_, c) => {
    // PyTorch's key_padding_mask marks padding with 1; Ganglion's mask marks what to keep.
    const mask = c.inputs.key_padding_mask?.data.map((v) => 1 - v);
    if (c.causal) {
      // The fixture's attn_mask is the strict upper triangle: exactly what `causal` masks.
      const s = c.inputs.attn_mask.shape[0];
      expect(c.inputs.attn_mask.data).toEqual(
        Array.from({ length: s * s }, (__, k) => (k % s > Math.floor(k / s) ? 1 : 0)),
      );
    }
    const y = run(new MultiHeadAttention({ dim: c.embed_dim!, heads: c.num_heads!, causal: c.causal }), c, mask);
    expect(maxRelError(y, c.outputs.y.data)).toBeLessThan(1e-5);
  });
});

describe('normalization equals PyTorch', () => {
  test.each(ofKind('layernorm'))('LayerNorm %s', (_, c) => {
    expect(maxRelError(run(new LayerNorm({ eps: c.eps }), c), c.outputs.y.data)).toBeLessThan(1e-5);
  });
  test.each(ofKind('rmsnorm'))('RMSNorm %s', (_, c) => {
    expect(maxRelError(run(new RMSNorm({ eps: c.eps }), c), c.outputs.y.data)).toBeLessThan(1e-5);
  });
});
