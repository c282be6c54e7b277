// The importer's ONNX LSTM/GRU (core's unrollRecurrent after fromOnnxRecurrentWeights) against
// onnxruntime on hand-made nodes: the forms Ganglion's own export never writes (GRU with ONNX's
// default linear_before_reset = 0, no bias B, no initial state; LSTM without B; direction reverse),
// and the ones its masked and bidirectional layers write (sequence_lens, direction bidirectional).
import { ReferenceBackend, type Tensor, tensor, tidy, uniformValues } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { TraceBackend } from '../trace-backend.js';
import { OnnxModel } from './onnx-model.js';

const [T, B, I, H] = [5, 3, 3, 4];

interface Case {
  readonly name: string;
  readonly op: 'LSTM' | 'GRU';
  readonly bias: boolean;
  readonly initial: boolean;
  readonly linearBeforeReset?: 0 | 1;
  readonly direction?: 'reverse' | 'bidirectional';
  /** Feed sequence_lens (SEQ_LENS: one full sequence, two short ones; onnxruntime leaves a length-0 one undefined). */
  readonly seqLens?: boolean;
}

const SEQ_LENS = [T, 2, 1];

const cases: Case[] = [
  { name: 'GRU, linear_before_reset 0, with B and h0', op: 'GRU', bias: true, initial: true, linearBeforeReset: 0 },
  { name: 'GRU, linear_before_reset 0, no B, no h0', op: 'GRU', bias: false, initial: false, linearBeforeReset: 0 },
  { name: 'GRU, linear_before_reset 1, no B', op: 'GRU', bias: false, initial: true, linearBeforeReset: 1 },
  { name: 'LSTM, no B, with h0 and c0', op: 'LSTM', bias: false, initial: true },
  { name: 'LSTM, with B, no initial state', op: 'LSTM', bias: true, initial: false },
  { name: 'LSTM, reverse, with h0 and c0', op: 'LSTM', bias: true, initial: true, direction: 'reverse' },
  {
    name: 'LSTM, bidirectional, sequence_lens',
    op: 'LSTM',
    bias: true,
    initial: true,
    direction: 'bidirectional',
    seqLens: true,
  },
  {
    name: 'GRU, forward, sequence_lens, no h0',
    op: 'GRU',
    bias: true,
    initial: false,
    linearBeforeReset: 1,
    seqLens: true,
  },
  {
    name: 'GRU, bidirectional, linear_before_reset 0',
    op: 'GRU',
    bias: false,
    initial: true,
    linearBeforeReset: 0,
    direction: 'bidirectional',
  },
];

/** A model of one `op` node: x [T, B, I] (and h0, c0 [1, B, H]) in, Y and the final states out. */
function model(c: Case): Uint8Array {
  const tb = new TraceBackend({ opset: 17 });
  const G = c.op === 'LSTM' ? 4 : 3;
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const param = (name: string, shape: number[], seed: number) =>
    tb.parameter(
      name,
      uniformValues(
        seed,
        shape.reduce((a, d) => a * d, 1),
        -0.6,
        0.6,
      ),
      { shape, dtype: 'float32' },
    );
  const states = c.op === 'LSTM' ? ['h', 'c'] : ['h'];
  const initial = states.map((s) =>
    c.initial ? tb.input(`${s}0`, { shape: [D, B, H], dtype: 'float32' }) : undefined,
  );
  const inputs: (Tensor | undefined)[] = [
    tb.input('x', { shape: [T, B, I], dtype: 'float32' }),
    param('W', [D, G * H, I], 1),
    param('R', [D, G * H, H], 2),
    c.bias ? param('B', [D, 2 * G * H], 3) : undefined,
    c.seqLens ? tb.input('seq_lens', { shape: [B], dtype: 'int32' }) : undefined,
    ...initial,
  ];
  const attrs = {
    hidden_size: { type: 'int', value: H } as const,
    ...(c.direction ? { direction: { type: 'string', value: c.direction } as const } : {}),
    ...(c.linearBeforeReset === undefined
      ? {}
      : { linear_before_reset: { type: 'int', value: c.linearBeforeReset } as const }),
  };
  const [y, ...finals] = tb.op(c.op, inputs, attrs, [
    { shape: [T, D, B, H], dtype: 'float32' },
    ...states.map(() => ({ shape: [D, B, H], dtype: 'float32' as const })),
  ]);
  tb.output('y', y);
  finals.forEach((f, i) => tb.output(`${states[i]}_out`, f));
  return tb.toModel();
}

describe('the importer runs ONNX LSTM/GRU as onnxruntime does', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const bytes = model(c);
    const D = c.direction === 'bidirectional' ? 2 : 1;
    const feeds: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {
      x: { data: Float32Array.from(uniformValues(7, T * B * I, -2, 2)), shape: [T, B, I] },
    };
    if (c.seqLens) feeds.seq_lens = { data: Int32Array.from(SEQ_LENS), shape: [B] };
    if (c.initial)
      for (const [k, s] of ['h0', 'c0'].entries())
        if (c.op === 'LSTM' || s === 'h0')
          feeds[s] = { data: Float32Array.from(uniformValues(10 + k, D * B * H, -1, 1)), shape: [D, B, H] };
    const session = await ort.InferenceSession.create(bytes);
    const want = await session.run(
      Object.fromEntries(
        Object.entries(feeds).map(([k, f]) => [
          k,
          new ort.Tensor(f.data instanceof Int32Array ? 'int32' : 'float32', f.data, f.shape),
        ]),
      ),
    );
    await session.release();
    const reference = new ReferenceBackend();
    const program = OnnxModel.fromBytes(bytes, c.name).program;
    const got = tidy(() => {
      const out = program.run(
        Object.fromEntries(
          Object.entries(feeds).map(([k, f]) => [
            k,
            tensor(f.data, f.shape, f.data instanceof Int32Array ? 'int32' : 'float32', reference),
          ]),
        ),
      );
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.toArray()]));
    });
    program.dispose();
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) {
      const data = w.data as Float32Array;
      expect(got[k].length, k).toBe(data.length);
      let diff = 0;
      for (let i = 0; i < data.length; i++) diff = Math.max(diff, Math.abs(got[k][i] - data[i]));
      expect(diff, k).toBeLessThan(1e-5);
    }
  });
});
