// LSTM and GRU forward against PyTorch (torch.nn.LSTM / torch.nn.GRU, float64) on the same weights:
// fixtures made by fixtures/make_rnn_fixtures.py.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, tensor, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import { GRU, LSTM } from './index.js';

interface T {
  shape: number[];
  data: number[];
}
interface RnnCase {
  name: string;
  input_size: number;
  hidden_size: number;
  params: Record<'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh', T>;
  inputs: Record<string, T>;
  outputs: Record<string, T>;
  outputs_zero_state: Record<string, T>;
}

const load = (file: string): RnnCase[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')).cases;

describe.each([
  ['LSTM', 'lstm.json', (h: number) => new LSTM({ units: h }), ['h0', 'c0'], ['y', 'h', 'c']],
  ['GRU', 'gru.json', (h: number) => new GRU({ units: h }), ['h0'], ['y', 'h']],
] as const)('%s equals PyTorch', (_, file, make, stateInputs, outputs) => {
  test.each(load(file).map((c) => [c.name, c] as const))('%s', (__, c) => {
    withBackend(new ReferenceBackend(), () => {
      for (const wired of [true, false]) {
        const g = new GraphBuilder();
        const x = g.input('x', ['batch', 'time', c.input_size]);
        const ins: Record<string, ReturnType<typeof g.input>> = { x };
        if (wired) for (const s of stateInputs) ins[s] = g.input(s, ['batch', c.hidden_size]);
        const node = g.node('rnn', make(c.hidden_size), ins);
        for (const o of outputs) g.output(o, node.out(o));
        const runtime = new Runtime(g.build());
        for (const [k, v] of Object.entries(c.params)) runtime.params.set(`rnn.${k}`, tensor(v.data, v.shape));
        const feeds = Object.fromEntries(Object.keys(ins).map((k) => [k, tensor(c.inputs[k].data, c.inputs[k].shape)]));
        const got = runtime.forward(feeds);
        const want = wired ? c.outputs : c.outputs_zero_state;
        for (const o of outputs) {
          expect(got[o].shape).toEqual(want[o].shape);
          expect(
            maxRelError(got[o].dataSync(), want[o].data),
            `${o} (${wired ? 'given' : 'zero'} initial state)`,
          ).toBeLessThan(1e-5);
        }
      }
    });
  });
});
