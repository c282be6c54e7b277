// Bidirectional against its definition, composed from the plain LSTM/GRU layer (itself checked
// against PyTorch): for each sequence, the forward direction is the layer over its valid steps, the
// backward direction the `_reverse` parameters over those steps reversed; padded steps output zeros,
// and a hole inside a sequence is skipped. Plus the checkpoint config and the parameter names.
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, tensor, uniformValues, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Bidirectional, GRU, LSTM } from './index.js';

const B = 3;
const T = 5;
const I = 2;
const H = 3;
/** Lengths 5 and 3, and a sequence with holes at steps 1 and 3. */
const MASK = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1];

describe.each(['lstm', 'gru'] as const)('Bidirectional(%s)', (cell) => {
  const states = cell === 'lstm' ? ['h', 'c'] : ['h'];
  const outputs = ['y', ...states];

  test.each(['concat', 'sum'] as const)('%s: each direction is the plain layer over the valid steps', (merge) => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const node = g.node('bi', new Bidirectional({ cell, units: H, merge }), {
        x: g.input('x', ['batch', 'time', I]),
        mask: g.input('mask', ['batch', 'time']),
      });
      for (const o of outputs) g.output(o, node.out(o));
      const bi = new Runtime(g.build(), { seed: 3 });
      const xs = uniformValues(7, B * T * I, -2, 2);
      const got = bi.forward({ x: tensor(xs, [B, T, I]), mask: tensor(MASK, [B, T]) });

      const single = (reverse: boolean) => {
        const g1 = new GraphBuilder();
        const n = g1.node(
          'rnn',
          cell === 'lstm' ? new LSTM({ units: H }) : new GRU({ units: H }),
          g1.input('x', [1, 'time', I]),
        );
        for (const o of outputs) g1.output(o, n.out(o));
        const r = new Runtime(g1.build());
        for (const key of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'])
          r.params.set(`rnn.${key}`, bi.params.get(`bi.${key}${reverse ? '_reverse' : ''}`));
        return r;
      };
      const [fwd, bwd] = [single(false), single(true)];
      const width = merge === 'concat' ? 2 * H : H;
      const wantY = new Array<number>(B * T * width).fill(0);
      const wantStates: Record<string, number[]> = Object.fromEntries(states.map((s) => [s, []]));
      const merged = (a: ArrayLike<number>, b: ArrayLike<number>) =>
        merge === 'concat' ? [...Array.from(a), ...Array.from(b)] : Array.from(a, (v, j) => v + b[j]);
      for (let b = 0; b < B; b++) {
        const valid = Array.from({ length: T }, (_, t) => t).filter((t) => MASK[b * T + t] === 1);
        const seq = valid.map((t) => Array.from(xs.slice((b * T + t) * I, (b * T + t + 1) * I)));
        const f = fwd.forward({ x: tensor(seq.flat(), [1, valid.length, I]) });
        const r = bwd.forward({ x: tensor([...seq].reverse().flat(), [1, valid.length, I]) });
        const [fy, ry] = [f.y.dataSync(), r.y.dataSync()];
        valid.forEach((t, k) => {
          const back = valid.length - 1 - k;
          const row = merged(fy.slice(k * H, (k + 1) * H), ry.slice(back * H, (back + 1) * H));
          wantY.splice((b * T + t) * width, width, ...row);
        });
        for (const s of states) wantStates[s].push(...merged(f[s].dataSync(), r[s].dataSync()));
      }
      expect(got.y.shape).toEqual([B, T, width]);
      expect(maxRelError(got.y.dataSync(), wantY)).toBeLessThan(1e-10);
      for (const s of states) {
        expect(got[s].shape).toEqual([B, width]);
        expect(maxRelError(got[s].dataSync(), wantStates[s]), s).toBeLessThan(1e-10);
      }
    });
  });
});

test("parameters in PyTorch's layout and names; the config is the checkpoint's", () => {
  const layer = new Bidirectional({ cell: 'gru', units: 4, merge: 'sum', dropout: 0.1 });
  const sig = layer.signature({ x: { shape: ['batch', 'time', 6], dtype: 'float32' } });
  expect(sig.params.map((p) => [p.name, p.shape])).toEqual([
    ['weight_ih', [12, 6]],
    ['weight_hh', [12, 4]],
    ['bias_ih', [12]],
    ['bias_hh', [12]],
    ['weight_ih_reverse', [12, 6]],
    ['weight_hh_reverse', [12, 4]],
    ['bias_ih_reverse', [12]],
    ['bias_hh_reverse', [12]],
  ]);
  expect(sig.outputs.map((o) => [o.name, o.shape])).toEqual([
    ['y', ['batch', 'time', 4]],
    ['h', ['batch', 4]],
  ]);
  expect(JSON.parse(JSON.stringify(layer.toJSON()))).toEqual({
    kind: 'Bidirectional',
    config: { cell: 'gru', units: 4, merge: 'sum', dropout: 0.1 },
  });
  expect(() =>
    layer.signature({ x: { shape: [2, 5, 6], dtype: 'float32' }, mask: { shape: [2, 4], dtype: 'float32' } }),
  ).toThrow(/input "mask" has shape \[2, 4\]/);
});
