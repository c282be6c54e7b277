// What a trainer consumes: a dataset yields, per epoch, batches of named tensors whose names match
// the graph's inputs. Tensors are created when a batch is produced, on the current backend; the
// consumer disposes them (`dispose(batch)`, or runs the step in a `tidy`). `for await` walks
// either kind of `batches(epoch)`.

import { GanglionError } from '../errors.js';
import { uniformValues } from '../random/prng.js';
import type { Tensor } from '../tensor.js';

/** A data problem: too little data for one batch, bad options. */
export class DataError extends GanglionError {}

/** One batch: graph input name -> tensor, e.g. `{ ids, labels }`. */
export type Batch = Readonly<Record<string, Tensor>>;

export interface Dataset {
  /** The batches of one epoch; the order may depend on `epoch` (shuffling), deterministically. */
  batches(epoch: number): AsyncIterable<Batch> | Iterable<Batch>;
  /** Batches per epoch, if known. */
  readonly size?: number;
}

/** A permutation of 0..n-1 determined by `seed` (Fisher-Yates on the seed's uniform stream). */
export function seededPermutation(n: number, seed: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const u = uniformValues(seed, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** Throws a DataError unless `value` is an integer >= `min`. */
export function checkInteger(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new DataError(`${what} must be an integer >= ${min}, got ${String(value)}`);
  return value;
}
