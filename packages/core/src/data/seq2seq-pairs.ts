// Sequence pairs for encoder–decoder training (seq2seq-models in @ganglion/layers): a vocabulary of
// symbols (characters, phonemes, words) that puts the three specials of every seq2seq model here
// first, and padded batches in the form those models read:
//   src      [batch, S] int32   source ids, padded with PAD_ID
//   src_mask [batch, S] float32 1 for a source symbol, 0 for padding
//   tgt_in   [batch, T] int32   BOS_ID, then the target, padded with PAD_ID (teacher forcing)
//   labels   [batch, T] int32   the target, then EOS_ID, padded with PAD_LABEL (left out of the loss)
// Lengths are bucketed: S and T are rounded up to a multiple of `bucket`, and a batch holds pairs of
// one bucket only, so a compiled training step (one ONNX session per batch shape) sees a handful of
// shapes rather than one per batch, and little of each batch is padding. With `sharedLength`, S and
// T are one length (max of the two), fewer shapes still when sources and targets run alike (g2p).
// Shuffling is seeded and new every epoch: the pairs are permuted, cut into batches within their
// bucket, and the batches permuted again.
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { deriveSeed } from '../random/prng.js';
import { type Batch, DataError, type Dataset, checkInteger, seededPermutation } from './dataset.js';

/** The specials every SymbolVocab starts with, at ids 0, 1, 2. */
export const SEQ2SEQ_SPECIALS = ['<pad>', '<s>', '</s>'] as const;
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** The label of padded target positions (layers' IGNORE_LABEL: SoftmaxCrossEntropy's ignoreIndex). */
export const PAD_LABEL = -1;

/**
 * Symbols to ids and back: the specials (`<pad>` `<s>` `</s>`), then the symbols in the order given.
 * A symbol outside it cannot be encoded (there is no unknown id: a seq2seq model must see its input).
 *
 *   const letters = SymbolVocab.fromSequences([['c', 'a', 't'], ['d', 'o', 'g']]);
 *   letters.encode(['c', 'a', 't']);   // Int32Array [5, 3, 9]
 */
export class SymbolVocab {
  private readonly ids: ReadonlyMap<string, number>;

  private constructor(
    /** Every symbol by id, the specials first. */
    readonly symbols: readonly string[],
  ) {
    this.ids = new Map(symbols.map((s, i) => [s, i]));
  }

  /** The sorted set of the symbols in `sequences`, after the specials. */
  static fromSequences(sequences: Iterable<readonly string[]>): SymbolVocab {
    const seen = new Set<string>();
    for (const seq of sequences) for (const s of seq) seen.add(s);
    for (const s of SEQ2SEQ_SPECIALS) seen.delete(s);
    return new SymbolVocab([...SEQ2SEQ_SPECIALS, ...[...seen].sort()]);
  }

  /** A vocabulary saved by `toJSON`; `where` names it in errors (a meta.json field, an ONNX metadata key). */
  static fromJSON(json: unknown, where: string): SymbolVocab {
    if (!Array.isArray(json) || !json.every((s) => typeof s === 'string' && s.length > 0))
      throw new DataError(`${where}: expected a list of symbols (non-empty strings)`);
    if (SEQ2SEQ_SPECIALS.some((s, i) => json[i] !== s))
      throw new DataError(`${where}: expected the symbols to start with ${SEQ2SEQ_SPECIALS.join(' ')}`);
    if (new Set(json).size !== json.length) throw new DataError(`${where}: a symbol appears twice`);
    return new SymbolVocab(json as string[]);
  }

  get size(): number {
    return this.symbols.length;
  }

  /** The id of `symbol`, or undefined when it is not in the vocabulary. */
  id(symbol: string): number | undefined {
    return this.ids.get(symbol);
  }

  /** The symbols of `seq` outside the vocabulary, each once, in order of first appearance. */
  unknown(seq: readonly string[]): string[] {
    return [...new Set(seq.filter((s) => !this.ids.has(s) || SEQ2SEQ_SPECIALS.includes(s as never)))];
  }

  /** The ids of `seq`; a symbol outside the vocabulary (or a special) is a DataError. */
  encode(seq: readonly string[]): Int32Array {
    const unknown = this.unknown(seq);
    if (unknown.length > 0)
      throw new DataError(`${unknown.map((s) => JSON.stringify(s)).join(', ')} not in the vocabulary`);
    return Int32Array.from(seq, (s) => this.ids.get(s)!);
  }

  /** The symbols of `ids` (specials by their names); an id outside 0..size-1 is a DataError. */
  decode(ids: ArrayLike<number>): string[] {
    return Array.from({ length: ids.length }, (_, i) => {
      const s = this.symbols[ids[i]];
      if (s === undefined)
        throw new DataError(`id ${ids[i]} at position ${i} is outside the vocabulary (0..${this.size - 1})`);
      return s;
    });
  }

  toJSON(): string[] {
    return [...this.symbols];
  }
}

/** One training example: the source's and the target's ids, without specials. */
export interface SequencePair {
  readonly source: Int32Array;
  readonly target: Int32Array;
}

export interface Seq2SeqBatchOptions {
  readonly batchSize: number;
  /** Round S and T up to a multiple of this (and batch pairs of the same S and T). Default 1. */
  readonly bucket?: number;
  /** Pad source and target to one length, max(S, T). Default false. */
  readonly sharedLength?: boolean;
  /** Visit pairs in a seeded order, new every epoch. Default false (in order, bucket by bucket). */
  readonly shuffle?: boolean;
  readonly seed?: number;
  /** Drop each bucket's short last batch, so every batch has batchSize rows. Default false. */
  readonly dropLast?: boolean;
  /** Backend for the tensors; default the current backend when a batch is made. */
  readonly backend?: Backend;
}

/** A dataset of padded pair batches, with `size` (batches per epoch). */
export interface Seq2SeqDataset extends Dataset {
  readonly size: number;
  batches(epoch: number): Iterable<Batch>;
}

/** [S, T]: the padded source and target lengths of a pair (T counts BOS or EOS). */
function paddedLengths(p: SequencePair, bucket: number, shared: boolean): [number, number] {
  const up = (n: number) => Math.max(bucket, Math.ceil(n / bucket) * bucket);
  const s = up(p.source.length);
  const t = up(p.target.length + 1);
  return shared ? [Math.max(s, t), Math.max(s, t)] : [s, t];
}

/**
 * Padded, bucketed batches of `pairs` (see the header for the four tensors).
 *
 *   const data = seq2seqDataset(pairs, { batchSize: 64, bucket: 8, shuffle: true, seed: 1, dropLast: true });
 *   trainer.fit(runtime, data, { steps: 1000 });
 */
export function seq2seqDataset(pairs: readonly SequencePair[], options: Seq2SeqBatchOptions): Seq2SeqDataset {
  const batchSize = checkInteger('seq2seqDataset: batchSize', options.batchSize, 1);
  const bucket = checkInteger('seq2seqDataset: bucket', options.bucket ?? 1, 1);
  const shared = options.sharedLength ?? false;
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new DataError(`seq2seqDataset: seed must be a finite number, got ${seed}`);
  pairs.forEach((p, i) => {
    if (p.source.length === 0) throw new DataError(`seq2seqDataset: pair ${i} has an empty source`);
  });
  const keys = pairs.map((p) => paddedLengths(p, bucket, shared).join('x'));
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const perBucket = (n: number) => (options.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize));
  const size = [...counts.values()].reduce((a, n) => a + perBucket(n), 0);
  if (size === 0)
    throw new DataError(
      `seq2seqDataset: ${pairs.length} pairs fill no batch of ${batchSize} in any length bucket; use a smaller batchSize${options.dropLast ? ' or dropLast: false' : ''}`,
    );

  function* batches(epoch: number): Generator<Batch> {
    checkInteger('seq2seqDataset: epoch', epoch, 0);
    const order = options.shuffle
      ? seededPermutation(pairs.length, deriveSeed(seed, 'seq2seq-pairs', epoch))
      : Int32Array.from(pairs.keys());
    // Pairs by bucket (in visiting order), buckets in order of first appearance.
    const byBucket = new Map<string, number[]>();
    for (const i of order) {
      const list = byBucket.get(keys[i]);
      if (list) list.push(i);
      else byBucket.set(keys[i], [i]);
    }
    const cut: number[][] = [];
    for (const list of byBucket.values())
      for (let at = 0; at + (options.dropLast ? batchSize : 1) <= list.length; at += batchSize)
        cut.push(list.slice(at, at + batchSize));
    const batchOrder = options.shuffle
      ? seededPermutation(cut.length, deriveSeed(seed, 'seq2seq-batches', epoch))
      : Int32Array.from(cut.keys());
    for (const b of batchOrder)
      yield seq2seqBatch(
        cut[b].map((i) => pairs[i]),
        { bucket, sharedLength: shared, backend: options.backend },
      );
  }

  return { size, batches };
}

/**
 * One padded batch of `pairs` (see the header), S and T the longest rounded up to `bucket`.
 *
 *   const { src, src_mask, tgt_in, labels } = seq2seqBatch([{ source, target }]);
 */
export function seq2seqBatch(
  pairs: readonly SequencePair[],
  options: { readonly bucket?: number; readonly sharedLength?: boolean; readonly backend?: Backend } = {},
): Batch {
  if (pairs.length === 0) throw new DataError('seq2seqBatch: no pairs');
  const bucket = options.bucket ?? 1;
  let [S, T] = [0, 0];
  for (const p of pairs) {
    const [s, t] = paddedLengths(p, bucket, options.sharedLength ?? false);
    S = Math.max(S, s);
    T = Math.max(T, t);
  }
  const rows = pairs.length;
  const src = new Int32Array(rows * S).fill(PAD_ID);
  const mask = new Float32Array(rows * S);
  const tgtIn = new Int32Array(rows * T).fill(PAD_ID);
  const labels = new Int32Array(rows * T).fill(PAD_LABEL);
  pairs.forEach(({ source, target }, r) => {
    src.set(source, r * S);
    mask.fill(1, r * S, r * S + source.length);
    tgtIn[r * T] = BOS_ID;
    tgtIn.set(target, r * T + 1);
    labels.set(target, r * T);
    labels[r * T + target.length] = EOS_ID;
  });
  return {
    src: tensor(src, [rows, S], 'int32', options.backend),
    src_mask: tensor(mask, [rows, S], 'float32', options.backend),
    tgt_in: tensor(tgtIn, [rows, T], 'int32', options.backend),
    labels: tensor(labels, [rows, T], 'int32', options.backend),
  };
}
