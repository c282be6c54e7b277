// LSTM, GRU and Bidirectional forward against PyTorch (torch.nn.LSTM / torch.nn.GRU, float64) on
// the same weights: fixtures made by fixtures/make_rnn_fixtures.py. Plain sequences; padded
// batches (mask port) against pack_padded_sequence; bidirectional=True, full and packed.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, type Tensor, tensor, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { Bidirectional, GRU, LSTM } from './index.js';

interface T {
  shape: number[];
  data: number[];
}
interface RnnCase {
  name: string;
  input_size: number;
  hidden_size: number;
  params: Record<string, T>;
  inputs: Record<string, T>;
  outputs: Record<string, T>;
  outputs_zero_state: Record<string, T>;
}
interface Fixture {
  cases: RnnCase[];
  masked: RnnCase[];
  bidirectional: Omit<RnnCase, 'outputs_zero_state'>[];
}

const load = (file: string): Fixture =>
  JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8'));
const FILES = { LSTM: 'lstm.json', GRU: 'gru.json' } as const;

/** One node `rnn` fed the named inputs (dims symbolic), its parameters set from the fixture; its outputs. */
function run(
  layer: LSTM | GRU | Bidirectional,
  c: { input_size: number; hidden_size: number; params: Record<string, T>; inputs: Record<string, T> },
  wire: readonly string[],
  outputs: readonly string[],
): Record<string, Tensor> {
  const g = new GraphBuilder();
  const ins = Object.fromEntries(
    wire.map((k) => [
      k,
      g.input(
        k,
        k === 'x' ? ['batch', 'time', c.input_size] : k === 'mask' ? ['batch', 'time'] : ['batch', c.hidden_size],
      ),
    ]),
  );
  const node = g.node('rnn', layer, ins);
  for (const o of outputs) g.output(o, node.out(o));
  const runtime = new Runtime(g.build());
  for (const [k, v] of Object.entries(c.params)) runtime.params.set(`rnn.${k}`, tensor(v.data, v.shape));
  return runtime.forward(Object.fromEntries(wire.map((k) => [k, tensor(c.inputs[k].data, c.inputs[k].shape)])));
}

function expectClose(got: Tensor, want: T, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  expect(maxRelError(got.dataSync(), want.data), what).toBeLessThan(1e-5);
}

describe.each([
  ['LSTM', (h: number) => new LSTM({ units: h }), ['h0', 'c0'], ['y', 'h', 'c']],
  ['GRU', (h: number) => new GRU({ units: h }), ['h0'], ['y', 'h']],
] as const)('%s equals PyTorch', (kind, make, stateInputs, outputs) => {
  const fixture = load(FILES[kind]);
  test.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (__, c) => {
    withBackend(new ReferenceBackend(), () => {
      for (const wired of [true, false]) {
        const got = run(make(c.hidden_size), c, wired ? ['x', ...stateInputs] : ['x'], outputs);
        const want = wired ? c.outputs : c.outputs_zero_state;
        for (const o of outputs) expectClose(got[o], want[o], `${o} (${wired ? 'given' : 'zero'} initial state)`);
      }
    });
  });

  test.each(fixture.masked.map((c) => [c.name, c] as const))('masked %s: pack_padded_sequence', (__, c) => {
    withBackend(new ReferenceBackend(), () => {
      for (const wired of [true, false]) {
        const got = run(make(c.hidden_size), c, wired ? ['x', ...stateInputs, 'mask'] : ['x', 'mask'], outputs);
        const want = wired ? c.outputs : c.outputs_zero_state;
        for (const o of outputs) expectClose(got[o], want[o], `${o} (${wired ? 'given' : 'zero'} initial state)`);
      }
    });
  });

  test.each(fixture.bidirectional.map((c) => [c.name, c] as const))('bidirectional %s', (__, c) => {
    withBackend(new ReferenceBackend(), () => {
      const H = c.hidden_size;
      const cell = kind === 'LSTM' ? 'lstm' : 'gru';
      const full = c.inputs.mask.data.every((m) => m === 1);
      // PyTorch's h, c [2, batch, H] (forward, backward) merged as the layer merges them.
      const halves = (t: T) => {
        const [, B] = t.shape;
        return [t.data.slice(0, B * H), t.data.slice(B * H)];
      };
      const [B, S] = c.inputs.x.shape;
      const y = c.outputs.y.data;
      for (const merge of ['concat', 'sum'] as const) {
        for (const wire of full ? [['x'], ['x', 'mask']] : [['x', 'mask']]) {
          const got = run(new Bidirectional({ cell, units: H, merge }), c, wire, outputs);
          const what = `${merge}, wired ${wire.join(', ')}`;
          if (merge === 'concat') {
            expectClose(got.y, c.outputs.y, `y (${what})`);
            for (const o of outputs.slice(1)) {
              const [f, b] = halves(c.outputs[o]);
              const want = Array.from({ length: B }, (_, i) => [
                ...f.slice(i * H, i * H + H),
                ...b.slice(i * H, i * H + H),
              ]);
              expectClose(got[o], { shape: [B, 2 * H], data: want.flat() }, `${o} (${what})`);
            }
          } else {
            const sum = Array.from({ length: B * S * H }, (_, j) => {
              const row = Math.floor(j / H);
              return y[row * 2 * H + (j % H)] + y[row * 2 * H + H + (j % H)];
            });
            expectClose(got.y, { shape: [B, S, H], data: sum }, `y (${what})`);
            for (const o of outputs.slice(1)) {
              const [f, b] = halves(c.outputs[o]);
              expectClose(got[o], { shape: [B, H], data: f.map((v, j) => v + b[j]) }, `${o} (${what})`);
            }
          }
        }
      }
    });
  });
});
