// seq2seq-pairs.ts: the vocabulary's ids and its one-line errors; a padded batch laid out by hand;
// bucketed, shuffled datasets that visit every pair once per epoch, in one shape per batch, in an
// order fixed by seed and epoch.
import { describe, expect, test } from 'vitest';
import { ReferenceBackend } from '../reference/reference-backend.js';
import {
  BOS_ID,
  EOS_ID,
  PAD_ID,
  PAD_LABEL,
  SymbolVocab,
  type SequencePair,
  seq2seqBatch,
  seq2seqDataset,
} from './seq2seq-pairs.js';

const backend = new ReferenceBackend();

describe('SymbolVocab', () => {
  const v = SymbolVocab.fromSequences([
    ['c', 'a', 't'],
    ['d', 'o', 'g'],
  ]);

  test('the specials first, then the sorted symbols; encode and decode invert each other', () => {
    expect(v.symbols).toEqual(['<pad>', '<s>', '</s>', 'a', 'c', 'd', 'g', 'o', 't']);
    expect([PAD_ID, BOS_ID, EOS_ID]).toEqual([0, 1, 2]);
    expect(Array.from(v.encode(['c', 'a', 't']))).toEqual([4, 3, 8]);
    expect(v.decode([6, 7, 5])).toEqual(['g', 'o', 'd']);
    expect(SymbolVocab.fromJSON(JSON.parse(JSON.stringify(v)), 'x').symbols).toEqual(v.symbols);
  });

  test('unknown symbols and specials cannot be encoded; bad ids and files are one-line errors', () => {
    expect(v.unknown(['c', 'x', '<s>', 'x'])).toEqual(['x', '<s>']);
    expect(() => v.encode(['c', 'x'])).toThrow(/^"x" not in the vocabulary$/);
    expect(() => v.decode([1, 9])).toThrow('id 9 at position 1 is outside the vocabulary (0..8)');
    expect(() => SymbolVocab.fromJSON(['a', 'b'], 'meta.json "g2p.phonemes"')).toThrow(
      'meta.json "g2p.phonemes": expected the symbols to start with <pad> <s> </s>',
    );
    expect(() => SymbolVocab.fromJSON(['<pad>', '<s>', '</s>', 'a', 'a'], 'f')).toThrow('f: a symbol appears twice');
    expect(() => SymbolVocab.fromJSON('abc', 'f')).toThrow('f: expected a list of symbols');
  });
});

const pair = (source: number[], target: number[]): SequencePair => ({
  source: Int32Array.from(source),
  target: Int32Array.from(target),
});

describe('seq2seqBatch', () => {
  test('pads sources with PAD and masks them; tgt_in is BOS + target, labels target + EOS, padding ignored', () => {
    const b = seq2seqBatch([pair([5, 6, 7], [10, 11]), pair([8], [12, 13, 14])], { backend });
    expect(b.src.shape).toEqual([2, 3]);
    expect(Array.from(b.src.dataSync())).toEqual([5, 6, 7, 8, 0, 0]);
    expect(Array.from(b.src_mask.dataSync())).toEqual([1, 1, 1, 1, 0, 0]);
    expect(b.tgt_in.shape).toEqual([2, 4]);
    expect(Array.from(b.tgt_in.dataSync())).toEqual([1, 10, 11, 0, 1, 12, 13, 14]);
    expect(Array.from(b.labels.dataSync())).toEqual([10, 11, 2, -1, 12, 13, 14, 2]);
    expect(PAD_LABEL).toBe(-1);
  });

  test('bucket rounds the lengths up; sharedLength makes them one', () => {
    const b = seq2seqBatch([pair([5, 6, 7], [10])], { bucket: 4, backend });
    expect([b.src.shape, b.tgt_in.shape]).toEqual([
      [1, 4],
      [1, 4],
    ]);
    const s = seq2seqBatch([pair([5], [10, 11, 12, 13, 14])], { bucket: 4, sharedLength: true, backend });
    expect([s.src.shape, s.labels.shape]).toEqual([
      [1, 8],
      [1, 8],
    ]);
  });
});

describe('seq2seqDataset', () => {
  // Sources of 1..9 symbols: buckets of 4 put them in three source lengths.
  const pairs = Array.from({ length: 23 }, (_, i) => pair(Array(1 + (i % 9)).fill(3 + i), [3 + i]));
  /** The pair index of each row of a batch (its first source id minus 3). */
  const rowsOf = (batch: Record<string, { dataSync(): ArrayLike<number>; shape: readonly (number | string)[] }>) => {
    const [rows, time] = batch.src.shape as number[];
    return Array.from({ length: rows }, (_, r) => batch.src.dataSync()[r * time] - 3);
  };

  test('every pair once per epoch, each batch one bucket, shuffled by seed and epoch', () => {
    const data = seq2seqDataset(pairs, { batchSize: 3, bucket: 4, shuffle: true, seed: 7, backend });
    const epoch = (e: number) => [...data.batches(e)];
    const first = epoch(0);
    expect(first.length).toBe(data.size);
    const seen = first.flatMap(rowsOf);
    expect([...seen].sort((a, b) => a - b)).toEqual(pairs.map((_, i) => i));
    for (const b of first) {
      const [, time] = b.src.shape as number[];
      // Every row's own padded length is the batch's: one bucket per batch.
      for (const i of rowsOf(b)) expect(Math.ceil(pairs[i].source.length / 4) * 4).toBe(time);
    }
    expect(epoch(0).map(rowsOf)).toEqual(first.map(rowsOf));
    expect(epoch(1).map(rowsOf)).not.toEqual(first.map(rowsOf));
    const other = seq2seqDataset(pairs, { batchSize: 3, bucket: 4, shuffle: true, seed: 8, backend });
    expect([...other.batches(0)].map(rowsOf)).not.toEqual(first.map(rowsOf));
  });

  test('dropLast keeps only full batches; a dataset with none is a DataError', () => {
    // Source lengths 1-4, 5-8 and 9 hold 12, 9 and 2 pairs: 4 + 3 + 0 full batches of 3.
    const data = seq2seqDataset(pairs, { batchSize: 3, bucket: 4, dropLast: true, backend });
    const batches = [...data.batches(0)];
    expect(batches.every((b) => b.src.shape[0] === 3)).toBe(true);
    expect(data.size).toBe(4 + 3 + 0);
    expect(seq2seqDataset(pairs, { batchSize: 3, bucket: 4, backend }).size).toBe(4 + 3 + 1);
    expect(batches.length).toBe(data.size);
    expect(() => seq2seqDataset(pairs.slice(0, 2), { batchSize: 3, dropLast: true })).toThrow(
      /fill no batch of 3 in any length bucket/,
    );
    expect(() => seq2seqDataset([pair([], [3])], { batchSize: 1 })).toThrow('pair 0 has an empty source');
  });
});
