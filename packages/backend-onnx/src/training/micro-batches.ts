// Cutting a batch into micro-batches along its first dimension, for gradient accumulation: each
// feed's rows are split into `k` equal consecutive parts (views of the same values, no copy).
//
//   splitBatch({ ids: { data, shape: [32, 64], dtype: 'int32' } }, 4); // four feeds of [8, 64]
import { ConfigError, Tensor } from '@ganglion/core';
import { type FeedValue, feedSpec } from '../ort-tensors.js';

export function splitBatch(feeds: Readonly<Record<string, FeedValue>>, k: number): Record<string, FeedValue>[] {
  const parts: Record<string, FeedValue>[] = Array.from({ length: k }, () => ({}));
  for (const [name, v] of Object.entries(feeds)) {
    const { shape, dtype } = feedSpec(v);
    const rows = shape[0];
    if (shape.length === 0 || rows % k !== 0)
      throw new ConfigError(
        `gradAccum ${k}: feed "${name}" has ${shape.length ? rows : 'no'} rows in its first dimension, which ${k} micro-batches cannot share equally`,
      );
    const data = v instanceof Tensor ? v.dataSync() : v.data;
    const size = data.length / k;
    for (let i = 0; i < k; i++) {
      const piece = ArrayBuffer.isView(data)
        ? (data as Float32Array).subarray(i * size, (i + 1) * size)
        : Array.prototype.slice.call(data, i * size, (i + 1) * size);
      parts[i][name] = { data: piece, shape: [rows / k, ...shape.slice(1)], dtype };
    }
  }
  return parts;
}
