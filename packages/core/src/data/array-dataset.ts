// In-memory data as a dataset: tensors whose first axis indexes examples, cut into batches
// (Keras's fit(x, y, batchSize, shuffle)). Shuffling is a seeded permutation per epoch.
import { tensor } from '../creation.js';
import { ConfigError } from '../errors.js';
import { gather } from '../ops/gather.js';
import { deriveSeed } from '../random/prng.js';
import { type Dataset, seededPermutation } from './dataset.js';
import type { Tensor } from '../tensor.js';

export function arrayDataset(
  data: Readonly<Record<string, Tensor>>,
  opts: { batchSize: number; shuffle?: boolean; seed?: number; dropLast?: boolean },
): Dataset {
  const names = Object.keys(data);
  if (names.length === 0) throw new ConfigError('arrayDataset: no tensors');
  const n = data[names[0]].shape[0];
  if (typeof n !== 'number') throw new ConfigError('arrayDataset: the example axis must be concrete');
  for (const k of names) {
    if (data[k].shape[0] !== n)
      throw new ConfigError(`arrayDataset: "${k}" has ${String(data[k].shape[0])} examples, "${names[0]}" has ${n}`);
  }
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
    throw new ConfigError(`batchSize must be a whole number > 0, got ${opts.batchSize}`);
  const full = Math.floor(n / opts.batchSize);
  const size = opts.dropLast || n % opts.batchSize === 0 ? full : full + 1;
  return {
    size,
    *batches(epoch: number) {
      const order = opts.shuffle
        ? seededPermutation(n, deriveSeed(opts.seed ?? 0, 'shuffle', epoch))
        : Int32Array.from({ length: n }, (_, i) => i);
      for (let b = 0; b < size; b++) {
        const ids = order.subarray(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize));
        const idx = tensor(ids, [ids.length], 'int32', data[names[0]].backend);
        const batch = Object.fromEntries(names.map((k) => [k, gather(data[k], idx, 0)]));
        idx.dispose();
        yield batch;
      }
    },
  };
}
