// LM windows: shapes, labels = ids shifted by one, window starts at multiples of seqLen, a
// shuffle that is deterministic in (seed, epoch), differs across epochs and covers every window;
// compact id arrays and token sources read by window give the same batches.
import { describe, expect, test } from 'vitest';
import { ReferenceBackend } from '../reference/reference-backend.js';
import type { Tensor } from '../tensor.js';
import { DataError, seededPermutation } from './dataset.js';
import { type LmWindowOptions, lmDataset, lmWindowCount } from './lm-windows.js';
import type { TokenArray, TokenSource } from './token-source.js';

/** tokens[i] = i, so a window's ids tell where it starts. */
const arange = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** Each batch as rows of [ids, labels], tensors disposed. */
function epochRows(options: LmWindowOptions, tokens: TokenArray | TokenSource, epoch: number): number[][][][] {
  const out: number[][][][] = [];
  for (const batch of lmDataset(tokens, options).batches(epoch)) {
    const rows = (t: Tensor) =>
      Array.from({ length: t.shape[0] as number }, (_, r) =>
        t.toArray().slice(r * (t.shape[1] as number), (r + 1) * (t.shape[1] as number)),
      );
    const ids = rows(batch.ids);
    const labels = rows(batch.labels);
    out.push(ids.map((row, r) => [row, labels[r]]));
    batch.ids.dispose();
    batch.labels.dispose();
  }
  return out;
}

const starts = (batches: number[][][][]) => batches.flatMap((b) => b.map(([ids]) => ids[0]));

describe('lmDataset', () => {
  test('shapes, dtypes, labels shifted by one, windows at multiples of seqLen', () => {
    const backend = new ReferenceBackend();
    const tokens = arange(4 * 7 + 1); // 29 tokens: 7 windows of 4 + 1
    const data = lmDataset(tokens, { seqLen: 4, batchSize: 2, backend });
    expect(data.windows).toBe(7);
    expect(data.size).toBe(3);
    const batches = [...data.batches(0)];
    expect(batches).toHaveLength(3);
    for (const b of batches) {
      expect(b.ids.shape).toEqual([2, 4]);
      expect(b.ids.dtype).toBe('int32');
      expect(b.labels.shape).toEqual([2, 4]);
      expect(b.labels.dtype).toBe('int32');
      expect(b.ids.backend).toBe(backend);
      expect(b.labels.toArray()).toEqual(b.ids.toArray().map((v) => v + 1));
    }
    expect(batches[0].ids.toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(batches[0].labels.toArray()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(starts(epochRows({ seqLen: 4, batchSize: 2 }, tokens, 0))).toEqual([0, 4, 8, 12, 16, 20]);
    for (const b of batches) {
      b.ids.dispose();
      b.labels.dispose();
    }
    expect(backend.numTensors()).toBe(0);
  });

  test('the last token of the stream is only ever a label', () => {
    const tokens = arange(4 * 3 + 1);
    const rows = epochRows({ seqLen: 4, batchSize: 3 }, tokens, 0);
    expect(rows[0][2]).toEqual([
      [8, 9, 10, 11],
      [9, 10, 11, 12],
    ]);
    expect(lmWindowCount(12, 4)).toBe(2);
    expect(lmWindowCount(13, 4)).toBe(3);
    expect(lmWindowCount(4, 4)).toBe(0);
  });

  test('dropLast: false keeps a short last batch', () => {
    const tokens = arange(29);
    const data = lmDataset(tokens, { seqLen: 4, batchSize: 2, dropLast: false });
    expect(data.size).toBe(4);
    const rows = epochRows({ seqLen: 4, batchSize: 2, dropLast: false }, tokens, 0);
    expect(rows.map((b) => b.length)).toEqual([2, 2, 2, 1]);
    expect(starts(rows)).toEqual([0, 4, 8, 12, 16, 20, 24]);
  });

  test('shuffling: deterministic in seed and epoch, new order each epoch, every window once', () => {
    const tokens = arange(4 * 20 + 1);
    const opts = { seqLen: 4, batchSize: 4, shuffle: true, seed: 7, dropLast: false };
    const e0 = starts(epochRows(opts, tokens, 0));
    expect(starts(epochRows(opts, tokens, 0))).toEqual(e0);
    const e1 = starts(epochRows(opts, tokens, 1));
    expect(e1).not.toEqual(e0);
    expect(starts(epochRows({ ...opts, seed: 8 }, tokens, 0))).not.toEqual(e0);
    const all = Array.from({ length: 20 }, (_, k) => 4 * k);
    for (const e of [e0, e1]) {
      expect(e).not.toEqual(all);
      expect([...e].sort((a, b) => a - b)).toEqual(all);
    }
    // Labels still follow their ids after shuffling.
    for (const b of epochRows(opts, tokens, 3))
      for (const [ids, labels] of b) expect(labels).toEqual(ids.map((v) => v + 1));
  });

  test('with dropLast, an epoch sees distinct windows, a different subset each epoch', () => {
    const tokens = arange(4 * 10 + 1);
    const opts = { seqLen: 4, batchSize: 3, shuffle: true, seed: 1 };
    const seen = [0, 1, 2, 3].map((e) => starts(epochRows(opts, tokens, e)));
    for (const s of seen) {
      expect(s).toHaveLength(9);
      expect(new Set(s).size).toBe(9);
    }
    expect(new Set(seen.flat()).size).toBe(10);
  });

  test('compact id arrays and a TokenSource give the same batches as an Int32Array', () => {
    const ids = Int32Array.from({ length: 4 * 9 + 3 }, (_, i) => (i * 37) % 251);
    const opts = { seqLen: 4, batchSize: 2, shuffle: true, seed: 5, dropLast: false };
    const reference = epochRows(opts, ids, 2);
    const reads: [number, number][] = [];
    const source: TokenSource = {
      length: ids.length,
      read(start, out) {
        reads.push([start, out.length]);
        for (let i = 0; i < out.length; i++) out[i] = ids[start + i];
      },
    };
    for (const tokens of [Uint8Array.from(ids), Uint16Array.from(ids), source])
      expect(epochRows(opts, tokens, 2)).toEqual(reference);
    // The source is read one window (seqLen + 1 tokens) at a time, at the windows' starts.
    expect(reads.map(([, n]) => n)).toEqual(new Array(9).fill(5));
    expect(reads.every(([start]) => start % 4 === 0)).toBe(true);
    expect(reads.map(([start]) => ids[start])).toEqual(starts(reference));
  });

  test('seeded permutations are permutations', () => {
    for (const n of [0, 1, 2, 17])
      expect([...seededPermutation(n, 3)].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(Array.from(seededPermutation(10, 3))).toEqual(Array.from(seededPermutation(10, 3)));
  });

  test('errors: too little data, bad options', () => {
    expect(() => lmDataset(arange(10), { seqLen: 4, batchSize: 4 })).toThrow(
      new DataError(
        'lmDataset: 10 tokens make 2 windows of 4 + 1 tokens, fewer than one batch of 4; use more text, a smaller seqLen or batchSize, or dropLast: false',
      ),
    );
    expect(lmDataset(arange(10), { seqLen: 4, batchSize: 4, dropLast: false }).size).toBe(1);
    expect(() => lmDataset(arange(3), { seqLen: 4, batchSize: 1 })).toThrow(
      /3 tokens make 0 windows of 4 \+ 1 tokens, fewer than one batch of 1; use more text, a smaller seqLen or batchSize$/,
    );
    expect(() => lmDataset(arange(10), { seqLen: 0, batchSize: 1 })).toThrow(/seqLen must be an integer >= 1, got 0/);
    expect(() => lmDataset(arange(10), { seqLen: 2, batchSize: 1.5 })).toThrow(
      /batchSize must be an integer >= 1, got 1.5/,
    );
    expect(() => lmDataset([1, 2, 3] as never, { seqLen: 1, batchSize: 1 })).toThrow(
      /tokens must be an Int32Array, Uint16Array, Uint8Array or a TokenSource, got \[object Array\]/,
    );
    expect(() => lmDataset(new Float32Array(8) as never, { seqLen: 1, batchSize: 1 })).toThrow(
      /got \[object Float32Array\]/,
    );
    expect(() => [...lmDataset(arange(10), { seqLen: 2, batchSize: 1 }).batches(-1)]).toThrow(
      /epoch must be an integer >= 0/,
    );
  });
});
