// Clipping policies: exact results on hand-made gradients (zero gradient and below-threshold
// gradients unchanged), and global-norm clipping against torch.nn.utils.clip_grad_norm_.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { tensor } from '../../creation.js';
import { withBackend } from '../../engine.js';
import { ReferenceBackend } from '../../reference/reference-backend.js';
import type { Tensor } from '../../tensor.js';
import { maxRelError } from '../../testing/values.js';
import { TOKENS } from '../../di/tokens.js';
import { createTrainingContainer } from '../create-trainer.js';
import { globalNorm } from './clipping-policy.js';

const policy = (name: string, options: Record<string, number> = {}) =>
  createTrainingContainer({ clipping: name, clippingOptions: options }).get(TOKENS.ClippingPolicy);
const grads = (g: Record<string, number[]>) => new Map(Object.entries(g).map(([k, v]) => [k, tensor(v)]));
const values = (m: Map<string, Tensor>) => Object.fromEntries([...m].map(([k, t]) => [k, t.toArray()]));
const clipWith = (name: string, options: Record<string, number>, g: Record<string, number[]>) =>
  withBackend(new ReferenceBackend(), () => {
    const m = grads(g);
    return values(policy(name, options).clip(m, globalNorm(m)));
  });

describe('clipping policies', () => {
  // ‖a‖ = 5 (3-4-5), ‖b‖ = 13 (5-12-13), global norm √(25 + 169) = √194.
  const g = { a: [3, 4], b: [5, 12] };

  test('none', () => {
    expect(clipWith('none', {}, g)).toEqual(g);
  });

  test('by value', () => {
    expect(clipWith('value', { clipValue: 4.5 }, g)).toEqual({ a: [3, 4], b: [4.5, 4.5] });
    expect(clipWith('value', { clipValue: 4.5 }, { z: [0, 0] })).toEqual({ z: [0, 0] });
  });

  test('per-tensor norm: g / max(1, ‖g‖ / c)', () => {
    const r = clipWith('norm', { maxNorm: 6.5 }, g);
    expect(r.a).toEqual([3, 4]); // ‖a‖ = 5 ≤ 6.5: unchanged
    expect(r.b[0]).toBeCloseTo(5 / 2, 14); // ‖b‖ = 13: divided by 13 / 6.5 = 2
    expect(r.b[1]).toBeCloseTo(12 / 2, 14);
    expect(clipWith('norm', { maxNorm: 1 }, { z: [0, 0, 0] })).toEqual({ z: [0, 0, 0] }); // zero gradient: unchanged, no NaN
  });

  test('global norm, torch semantics: scale by max_norm / (total + 1e-6) when that is < 1', () => {
    const total = Math.sqrt(194);
    const coef = 7 / (total + 1e-6);
    const r = clipWith('global-norm', { maxNorm: 7 }, g);
    [...r.a, ...r.b].forEach((v, i) => expect(v).toBeCloseTo([3, 4, 5, 12][i] * coef, 14));
    expect(clipWith('global-norm', { maxNorm: 100 }, g)).toEqual(g); // below the threshold: unchanged
    expect(clipWith('global-norm', { maxNorm: 1 }, { z: [0, 0] })).toEqual({ z: [0, 0] });
  });

  test('global norm equals torch.nn.utils.clip_grad_norm_ on fixtures', () => {
    interface T {
      data: number[];
      shape: number[];
    }
    const fixtures: { max_norm: number; grads: Record<string, T>; total_norm: number; clipped: Record<string, T> }[] =
      JSON.parse(readFileSync(new URL('../../../fixtures/optimizers.json', import.meta.url), 'utf8')).clip_grad_norm;
    for (const f of fixtures) {
      withBackend(new ReferenceBackend(), () => {
        const m = new Map(Object.entries(f.grads).map(([k, v]) => [k, tensor(v.data, v.shape)]));
        const norm = globalNorm(m);
        expect(norm.item()).toBeCloseTo(f.total_norm, 12);
        const out = policy('global-norm', { maxNorm: f.max_norm }).clip(m, norm);
        for (const [k, v] of Object.entries(f.clipped))
          expect(maxRelError(out.get(k)!.dataSync(), v.data)).toBeLessThan(1e-12);
      });
    }
  });

  test('bad options are one-line ConfigErrors naming the policy, the option and what it expects', () => {
    expect(() => policy('norm', {})).toThrow(/^clipping policy "norm": option "maxNorm" is required: a number > 0$/);
    expect(() => policy('value', { clipValue: -1 })).toThrow(
      /^clipping policy "value": option "clipValue" must be a number > 0, got -1$/,
    );
    expect(() => policy('value', { value: 1 })).toThrow(
      /^clipping policy "value": unknown option "value"; its options: clipValue$/,
    );
    expect(() => policy('none', { maxNorm: 1 })).toThrow(
      /^clipping policy "none": unknown option "maxNorm"; it takes no options$/,
    );
    expect(() => policy('percentile')).toThrow(
      /unknown clipping policy "percentile": expected one of none, value, norm, global-norm/,
    );
  });
});
