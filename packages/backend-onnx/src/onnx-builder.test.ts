// The OnnxBuilder's typed helpers (elementwise, cast, unsqueeze, dim): the specs they infer, with
// symbolic dims, written out by hand here; and the values onnxruntime computes from the nodes they
// emit, against a hand computation.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { TraceBackend } from './trace-backend.js';

describe('OnnxBuilder helpers', () => {
  it('infer output specs and emit nodes onnxruntime runs', async () => {
    const b = new TraceBackend({ opset: 17 });
    const q = b.input('q', { shape: ['rows', 'time'], dtype: 'int32' });
    const k = b.input('k', { shape: ['rows', 'keys'], dtype: 'float32' });
    const qu = b.unsqueeze(q, [1, 3]);
    expect([qu.shape, qu.dtype]).toEqual([['rows', 1, 'time', 1], 'int32']);
    const keys = b.dim(k, 1);
    expect([keys.shape, keys.dtype]).toEqual([[], 'int32']);
    const ku = b.unsqueeze(b.cast(k, 'int32'), [1, -2]);
    expect(ku.shape).toEqual(['rows', 1, 1, 'keys']);
    expect(() => b.unsqueeze(k, [1, -3])).toThrow(/Unsqueeze: axes \[1, -3\] are not distinct axes of a rank-4 output/);
    const distance = b.elementwise('Sub', [qu, ku]);
    expect([distance.shape, distance.dtype]).toEqual([['rows', 1, 'time', 'keys'], 'int32']);
    const ok = b.elementwise('And', [
      b.elementwise('GreaterOrEqual', [distance, keys]),
      b.elementwise('Less', [distance, b.dim(q, 1)]),
    ]);
    expect([ok.shape, ok.dtype]).toEqual([['rows', 1, 'time', 'keys'], 'bool']);
    const y = b.elementwise('Where', [ok, b.cast(distance, 'float32'), b.cast(keys, 'float32')]);
    expect([y.shape, y.dtype]).toEqual([['rows', 1, 'time', 'keys'], 'float32']);
    b.output('y', y);

    const session = await ort.InferenceSession.create(b.toModel());
    const [rows, time, nk] = [2, 3, 2];
    const qv = [5, 1, 4, 2, 6, 3];
    const kv = [1.9, 0.2, 2.5, -1];
    const out = (
      await session.run({
        q: new ort.Tensor('int32', Int32Array.from(qv), [rows, time]),
        k: new ort.Tensor('float32', Float32Array.from(kv), [rows, nk]),
      })
    ).y;
    await session.release();
    expect(out.dims).toEqual([rows, 1, time, nk]);
    // By hand: d = q[r, t] - trunc(k[r, j]); y = d if nk <= d < time, else nk.
    const want: number[] = [];
    for (let r = 0; r < rows; r++)
      for (let t = 0; t < time; t++)
        for (let j = 0; j < nk; j++) {
          const d = qv[r * time + t] - Math.trunc(kv[r * nk + j]);
          want.push(d >= nk && d < time ? d : nk);
        }
    expect(Array.from(out.data as Float32Array)).toEqual(want);
  });
});
