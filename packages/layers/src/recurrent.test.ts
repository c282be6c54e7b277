// Variational dropout in LSTM, GRU and Bidirectional: one mask per sequence, the same at every time
// step (a run resumed from the state at step t, with the same seed, continues exactly as the full
// run; the input gradient is zero at the same features at every step); seeded (same seed, same
// masks; another seed, others); off at inference; given masks, the unroll equals a plain float64
// loop of Gal & Ghahramani's equations (a GRU's carried state is not dropped). Plus the config checks.
import { describe, expect, test } from 'vitest';
import {
  AttributeError,
  GraphBuilder,
  type Layer,
  ReferenceBackend,
  Runtime,
  type Tensor,
  slice,
  tensor,
  uniformValues,
  withBackend,
} from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Bidirectional, GRU, LSTM } from './index.js';
import { recurrentForward } from './recurrent.js';
import { WeightedSum } from './testing/layer-gradcheck.js';

const B = 3;
const T = 5;
const I = 4;
const H = 6;
const SEED = 41;

const input = (shape: number[], seed: number): Tensor =>
  tensor(
    uniformValues(
      seed,
      shape.reduce((a, b) => a * b, 1),
      -2,
      2,
    ),
    shape,
  );

/** A runtime with one node `rnn` fed `wire` (x, and optionally state ports), outputs = the layer's. */
function runtimeOf(layer: Layer, wire: readonly string[], outputs: readonly string[], params?: Runtime): Runtime {
  const g = new GraphBuilder();
  const ins = Object.fromEntries(wire.map((k) => [k, g.input(k, k === 'x' ? ['batch', 'time', I] : ['batch', H])]));
  const node = g.node('rnn', layer, ins);
  for (const o of outputs) g.output(o, node.out(o));
  g.output('loss', g.node('loss', new WeightedSum({ seed: 9 }), node.out('y')));
  const runtime = new Runtime(g.build(), { seed: 1 });
  if (params) for (const [k, v] of params.params.entries()) runtime.params.set(k, v);
  return runtime;
}

const timeSlice = (x: Tensor, from: number, to: number) => slice(x, [from], [to], [1]);

describe.each([
  ['LSTM', (o: object) => new LSTM({ units: H, ...o }), ['h', 'c']],
  ['GRU', (o: object) => new GRU({ units: H, ...o }), ['h']],
] as const)('%s variational dropout', (_, make, states) => {
  const rates = { dropout: 0.5, recurrentDropout: 0.5 };
  const outputs = ['y', ...states];

  test('the masks are the same at every step: resuming from the state at step t continues the full run', () => {
    withBackend(new ReferenceBackend(), () => {
      const full = runtimeOf(make(rates), ['x'], outputs);
      const resumed = runtimeOf(make(rates), ['x', ...states.map((s) => `${s}0`)], outputs, full);
      const x = input([B, T, I], 1);
      const wave = { training: true, seed: SEED };
      const y = full.forward({ x }, wave).y;
      const plain = full.forward({ x }).y;
      expect(maxRelError(y.dataSync(), plain.dataSync()), 'dropout is active in training').toBeGreaterThan(1e-2);
      for (let t = 1; t < T; t++) {
        const prefix = full.forward({ x: timeSlice(x, 0, t) }, wave);
        const feeds = Object.fromEntries(states.map((s) => [`${s}0`, prefix[s]]));
        const next = resumed.forward({ x: timeSlice(x, t, t + 1), ...feeds }, wave).y;
        expect(maxRelError(next.dataSync(), timeSlice(y, t, t + 1).dataSync()), `step ${t}`).toBeLessThan(1e-12);
      }
    });
  });

  test('the input mask drops the same features at every step (zeros of the input gradient)', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = runtimeOf(make({ dropout: 0.5 }), ['x'], outputs);
      const grad = runtime.trainStep({ x: input([B, T, I], 2) }, { loss: 'loss', seed: SEED }).inputGrads.get('x')!;
      const g = grad.dataSync();
      const dropped = (b: number, t: number) => Array.from({ length: I }, (__, i) => g[(b * T + t) * I + i] === 0);
      let zeros = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 1; t < T; t++) expect(dropped(b, t), `sequence ${b}, step ${t}`).toEqual(dropped(b, 0));
        zeros += dropped(b, 0).filter(Boolean).length;
      }
      expect(zeros).toBeGreaterThan(0);
      expect(zeros).toBeLessThan(B * I);
    });
  });

  test('seeded: the same seed draws the same masks, another seed others; off at inference', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = runtimeOf(make(rates), ['x'], outputs);
      const x = input([B, T, I], 3);
      const at = (opts: { training?: boolean; seed?: number }) => runtime.forward({ x }, opts).y.dataSync();
      expect(at({ training: true, seed: 5 })).toEqual(at({ training: true, seed: 5 }));
      expect(maxRelError(at({ training: true, seed: 5 }), at({ training: true, seed: 6 }))).toBeGreaterThan(1e-2);
      const without = runtimeOf(make({}), ['x'], outputs, runtime);
      expect(at({ training: false, seed: 5 })).toEqual(without.forward({ x }).y.dataSync());
    });
  });
});

test('Bidirectional: each direction draws its own masks, the same at every step', () => {
  withBackend(new ReferenceBackend(), () => {
    const layer = new Bidirectional({ cell: 'lstm', units: H, merge: 'concat', dropout: 0.5 });
    const runtime = runtimeOf(layer, ['x'], ['y', 'h', 'c']);
    const grad = runtime.trainStep({ x: input([B, T, I], 4) }, { loss: 'loss', seed: SEED }).inputGrads.get('x')!;
    // With input dropout only, x[b, t, i] reaches the loss unless both directions dropped feature i.
    const g = grad.dataSync();
    const both = (b: number, t: number) => Array.from({ length: I }, (_, i) => g[(b * T + t) * I + i] === 0);
    for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) expect(both(b, t)).toEqual(both(b, 0));
    const y = runtime.forward({ x: input([B, T, I], 4) }, { training: true, seed: SEED }).y;
    const plain = runtime.forward({ x: input([B, T, I], 4) }).y;
    expect(maxRelError(y.dataSync(), plain.dataSync())).toBeGreaterThan(1e-2);
  });
});

/** x·Wᵀ + b for a row x and W [rows, cols] (row-major). */
const affine = (W: Float64Array, b: Float64Array, x: readonly number[]) =>
  Array.from(b, (bias, r) => x.reduce((acc, v, j) => acc + W[r * x.length + j] * v, bias));
const sigma = (v: number) => 1 / (1 + Math.exp(-v));

/** One sequence through Gal's LSTM/GRU: inputs times mx, h times mh where it enters W_hh. */
function reference(
  cell: 'lstm' | 'gru',
  xs: number[][],
  p: Record<string, Float64Array>,
  mx: number[],
  mh: number[],
): number[][] {
  let h = new Array<number>(H).fill(0);
  let c = new Array<number>(H).fill(0);
  return xs.map((x) => {
    const gx = affine(
      p.weight_ih,
      p.bias_ih,
      x.map((v, i) => v * mx[i]),
    );
    const gh = affine(
      p.weight_hh,
      p.bias_hh,
      h.map((v, i) => v * mh[i]),
    );
    const at = (g: number[], k: number) => g.slice(k * H, (k + 1) * H);
    if (cell === 'lstm') {
      const z = gx.map((v, j) => v + gh[j]);
      const [i, f, g, o] = [0, 1, 2, 3].map((k) => at(z, k));
      c = c.map((cv, j) => sigma(f[j]) * cv + sigma(i[j]) * Math.tanh(g[j]));
      h = c.map((cv, j) => sigma(o[j]) * Math.tanh(cv));
    } else {
      const r = at(gx, 0).map((v, j) => sigma(v + gh[j]));
      const z = at(gx, 1).map((v, j) => sigma(v + gh[H + j]));
      const n = at(gx, 2).map((v, j) => Math.tanh(v + r[j] * gh[2 * H + j]));
      h = h.map((hv, j) => (1 - z[j]) * n[j] + z[j] * hv);
    }
    return h;
  });
}

test.each(['lstm', 'gru'] as const)("%s: given dropout masks, the unroll is Gal & Ghahramani's", (cell) => {
  withBackend(new ReferenceBackend(), () => {
    const G = cell === 'lstm' ? 4 : 3;
    const shapes = { weight_ih: [G * H, I], weight_hh: [G * H, H], bias_ih: [G * H], bias_hh: [G * H] };
    const params = Object.fromEntries(Object.entries(shapes).map(([k, shape], n) => [k, input(shape, 10 + n)]));
    const x = input([B, T, I], 20);
    const keep = (n: number, seed: number) => uniformValues(seed, n).map((u) => (u < 0.4 ? 0 : 2));
    const [mx, mh] = [keep(B * I, 21), keep(B * H, 22)];
    const zero = tensor(new Float64Array(B * H), [B, H]);
    const { y } = recurrentForward(cell, x, params as never, cell === 'lstm' ? { h: zero, c: zero } : { h: zero }, {
      dropout: { input: tensor(mx, [B, I]), state: tensor(mh, [B, H]) },
    });
    const xv = x.dataSync();
    const p = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Float64Array.from(t.dataSync())]));
    const want = Array.from({ length: B }, (_, b) =>
      reference(
        cell,
        Array.from({ length: T }, (__, t) => Array.from(xv.slice((b * T + t) * I, (b * T + t + 1) * I))),
        p,
        Array.from(mx.slice(b * I, (b + 1) * I)),
        Array.from(mh.slice(b * H, (b + 1) * H)),
      ),
    ).flat(2);
    expect(maxRelError(y.dataSync(), want)).toBeLessThan(1e-10);
  });
});

test('config checks: dropout rates in [0, 1), a known cell and merge', () => {
  expect(() => new LSTM({ units: 3, dropout: 1 })).toThrow(AttributeError);
  expect(() => new GRU({ units: 3, recurrentDropout: -0.1 })).toThrow(
    /GRU: recurrentDropout must be in \[0, 1\), got -0.1/,
  );
  expect(() => new Bidirectional({ cell: 'rnn' as 'lstm', units: 3 })).toThrow(/cell must be "lstm" or "gru"/);
  expect(() => new Bidirectional({ cell: 'gru', units: 3, merge: 'mean' as 'sum' })).toThrow(/merge must be/);
});
