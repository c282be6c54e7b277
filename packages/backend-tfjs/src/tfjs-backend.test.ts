// The Backend contract on tfjs cpu: allocation per dtype, reads that cannot alias tfjs's storage,
// kernel availability, and outputs that never alias their inputs.
import * as tf from '@tensorflow/tfjs';
import { OP_NAMES, cast, reshape, tensor, tidy, withBackend } from '@ganglion/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TfjsBackend } from './tfjs-backend.js';

describe('TfjsBackend (cpu)', () => {
  let backend: TfjsBackend;
  beforeAll(async () => {
    backend = await TfjsBackend.create();
  });

  it('is named after its flavor and makes tfjs use it', () => {
    expect(backend.name).toBe('tfjs-cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('has every kernel of every lowering on cpu', () => {
    expect(OP_NAMES.filter((op) => !backend.supports(op))).toEqual([]);
  });

  it('allocates float32, int32 and bool tensors with the values given', () => {
    const values = Float64Array.from([0, 1.5, -2, 3]);
    const f = backend.fromValues(values, { shape: [2, 2], dtype: 'float32' });
    const i = backend.fromValues(Float64Array.from([0, 1, -2, 3]), { shape: [4], dtype: 'int32' });
    const b = backend.fromValues(Float64Array.from([0, 1, 1, 0]), { shape: [4], dtype: 'bool' });
    expect([f.dtype, i.dtype, b.dtype]).toEqual(['float32', 'int32', 'bool']);
    expect(f.shape).toEqual([2, 2]);
    expect(backend.readSync(f)).toEqual(Float32Array.from(values));
    expect(backend.readSync(i)).toEqual(Int32Array.from([0, 1, -2, 3]));
    expect(backend.readSync(b)).toEqual(Uint8Array.from([0, 1, 1, 0]));
    for (const t of [f, i, b]) backend.dispose(t);
    expect(f.isDisposed && i.isDisposed && b.isDisposed).toBe(true);
  });

  it('reads copies, so writing to what dataSync returned leaves the tensor alone', () => {
    const x = tensor([1, 2, 3], [3], 'float32', backend);
    const read = x.dataSync();
    read[0] = 99;
    expect(x.toArray()).toEqual([1, 2, 3]);
    x.dispose();
  });

  it('gives every op result its own tfjs tensor, so disposing an input leaves results intact', () => {
    const before = tf.memory().numTensors;
    withBackend(backend, () =>
      tidy(() => {
        const x = tensor([1, 2, 3, 4], [2, 2], 'float32', backend);
        const same = reshape(x, [2, 2]);
        const asInt = cast(cast(x, 'int32'), 'float32');
        expect(same.handle).not.toBe(x.handle);
        x.dispose();
        expect(same.toArray()).toEqual([1, 2, 3, 4]);
        expect(asInt.toArray()).toEqual([1, 2, 3, 4]);
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
