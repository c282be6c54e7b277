// Language-model windows over a token stream. Window k covers tokens [k·L, k·L + L] (L + 1 tokens,
// L = seqLen): its first L tokens are the inputs `ids`, its last L the next-token targets `labels`.
// Inputs of consecutive windows do not overlap, so an epoch sees every token once as an input
// (except a tail shorter than a window). Windows are grouped into batches, optionally in a seeded
// order that changes with the epoch but is the same for the same seed and epoch. Tokens come from
// an array in memory or a TokenSource read one window at a time (a token file, say).

import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { deriveSeed } from '../random/prng.js';
import { type Batch, DataError, type Dataset, checkInteger, seededPermutation } from './dataset.js';
import { type TokenArray, type TokenSource, toTokenSource } from './token-source.js';

export interface LmWindowOptions {
  readonly seqLen: number;
  readonly batchSize: number;
  /** Visit windows in a seeded order, new every epoch. Default false (in order). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  readonly seed?: number;
  /** Drop the last batch when it is short, so every batch is [batchSize, seqLen]. Default true. */
  readonly dropLast?: boolean;
  /** Backend for the tensors; default the current backend when a batch is made. */
  readonly backend?: Backend;
}

/** A dataset over an LM's windows, with `windows` (how many) and `size` (batches per epoch). */
export interface LmDataset extends Dataset {
  readonly size: number;
  readonly windows: number;
  batches(epoch: number): Iterable<Batch>;
}

/** Number of windows of `seqLen` + 1 tokens at stride `seqLen` in `tokenCount` tokens. */
export function lmWindowCount(tokenCount: number, seqLen: number): number {
  return tokenCount > seqLen ? Math.floor((tokenCount - 1) / seqLen) : 0;
}

/**
 * Next-token batches `{ ids, labels }`, both int32 [batchSize, seqLen], labels = ids shifted by one.
 * `tokens`: an Int32Array, Uint16Array or Uint8Array of ids, or a TokenSource.
 *
 *   const data = lmDataset(tok.encode(text), { seqLen: 64, batchSize: 16, shuffle: true, seed: 1 });
 *   for (const { ids, labels } of data.batches(epoch)) { ... }
 */
export function lmDataset(tokens: TokenArray | TokenSource, options: LmWindowOptions): LmDataset {
  const source = toTokenSource(tokens, 'lmDataset');
  const seqLen = checkInteger('lmDataset: seqLen', options.seqLen, 1);
  const batchSize = checkInteger('lmDataset: batchSize', options.batchSize, 1);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new DataError(`lmDataset: seed must be a finite number, got ${seed}`);
  const dropLast = options.dropLast ?? true;
  const windows = lmWindowCount(source.length, seqLen);
  const size = dropLast ? Math.floor(windows / batchSize) : Math.ceil(windows / batchSize);
  if (size === 0) {
    throw new DataError(
      `lmDataset: ${source.length} tokens make ${windows} window${windows === 1 ? '' : 's'} of ${seqLen} + 1 tokens, ` +
        `fewer than one batch of ${batchSize}; use more text, a smaller seqLen or batchSize${dropLast && windows > 0 ? ', or dropLast: false' : ''}`,
    );
  }

  function* batches(epoch: number): Generator<Batch> {
    checkInteger('lmDataset: epoch', epoch, 0);
    const order = options.shuffle ? seededPermutation(windows, deriveSeed(seed, 'lm-windows', epoch)) : null;
    const window = new Int32Array(seqLen + 1);
    for (let b = 0; b < size; b++) {
      const rows = Math.min(batchSize, windows - b * batchSize);
      const ids = new Int32Array(rows * seqLen);
      const labels = new Int32Array(rows * seqLen);
      for (let r = 0; r < rows; r++) {
        const w = order ? order[b * batchSize + r] : b * batchSize + r;
        source.read(w * seqLen, window);
        ids.set(window.subarray(0, seqLen), r * seqLen);
        labels.set(window.subarray(1), r * seqLen);
      }
      yield {
        ids: tensor(ids, [rows, seqLen], 'int32', options.backend),
        labels: tensor(labels, [rows, seqLen], 'int32', options.backend),
      };
    }
  }

  return { size, windows, batches };
}
