// Batched matrix product with broadcast batch dims.
import type { TensorSpec } from '../../backend.js';
import { type Buf, type In, broadcastIndex, dims, sizeOfDims } from './util.js';

export function matMul([a, b]: readonly In[], _attrs: unknown, out: TensorSpec): Buf {
  const as = dims(a.shape);
  const bs = dims(b.shape);
  const os = dims(out.shape);
  const m = as[as.length - 2];
  const k = as[as.length - 1];
  const n = bs[bs.length - 1];
  const batch = os.slice(0, -2);
  const nb = sizeOfDims(batch);
  // Map each output batch index to the batch index of a and b (broadcasting).
  const ia = broadcastIndex(as.slice(0, -2), batch);
  const ib = broadcastIndex(bs.slice(0, -2), batch);
  const r = new Float64Array(nb * m * n);
  for (let t = 0; t < nb; t++) {
    const ao = ia[t] * m * k;
    const bo = ib[t] * k * n;
    const ro = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.handle[ao + i * k + p] * b.handle[bo + p * n + j];
        r[ro + i * n + j] = s;
      }
    }
  }
  return r;
}
