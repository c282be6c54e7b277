// Errors on tfjs are core's typed errors, raised before or instead of tfjs's own: bad indices,
// bad shapes, tensors from two backends, a lowering that returns the wrong thing, missing kernels.
import * as tf from '@tensorflow/tfjs';
import {
  BackendError,
  IndexError,
  ReferenceBackend,
  ShapeError,
  UnsupportedOpError,
  add,
  gather,
  matMul,
  scatterAdd,
  tensor,
  zeros,
} from '@ganglion/core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { TfjsBackend, translateTfjsError } from './tfjs-backend.js';

let backend: TfjsBackend;
beforeAll(async () => {
  backend = await TfjsBackend.create('cpu');
});

/** The error `fn` throws, and whether tfjs's tensor count moved meanwhile. */
function failure(fn: () => unknown): { error: unknown; leaked: number } {
  const before = tf.memory().numTensors;
  try {
    fn();
  } catch (error) {
    return { error, leaked: tf.memory().numTensors - before };
  }
  throw new Error('expected a throw');
}

describe('index errors', () => {
  it('Gather with an out-of-range index raises IndexError naming Gather and the index', () => {
    const table = zeros([5, 3], 'float32', backend);
    const ids = tensor([0, 7, 2], [3], 'int32', backend);
    const { error, leaked } = failure(() => gather(table, ids, 0));
    expect(error).toBeInstanceOf(IndexError);
    expect((error as Error).message).toBe(
      'Gather: index 7 at position 1 is out of range for axis 0 of size 5 (expected 0 <= index < 5)',
    );
    expect(leaked).toBe(0);
  });

  it('Gather with a negative index raises IndexError', () => {
    const table = zeros([2, 4], 'float32', backend);
    const ids = tensor([[1, -1]], [1, 2], 'int32', backend);
    expect(() => gather(table, ids, 1)).toThrow(/^Gather: index -1 at position 1 is out of range for axis 1 of size 4/);
    expect(() => gather(table, ids, 1)).toThrow(IndexError);
  });

  it('ScatterAdd with an out-of-range index raises IndexError naming ScatterAdd', () => {
    const ids = tensor([1, 4], [2], 'int32', backend);
    const updates = zeros([2, 3], 'float32', backend);
    const { error, leaked } = failure(() => scatterAdd(ids, updates, 0, 4));
    expect(error).toBeInstanceOf(IndexError);
    expect((error as Error).message).toMatch(/^ScatterAdd: index 4 at position 1 is out of range for axis 0 of size 4/);
    expect(leaked).toBe(0);
  });
});

describe('shape errors are raised in core, before tfjs runs anything', () => {
  it('MatMul with differing inner dims', () => {
    const a = zeros([2, 64], 'float32', backend);
    const b = zeros([128, 3], 'float32', backend);
    const execute = vi.spyOn(backend, 'execute');
    const { error, leaked } = failure(() => matMul(a, b));
    expect(error).toBeInstanceOf(ShapeError);
    expect((error as Error).message).toBe('MatMul: inner dims 64 and 128 differ (a: [2, 64], b: [128, 3])');
    expect(execute).not.toHaveBeenCalled();
    expect(leaked).toBe(0);
    execute.mockRestore();
  });

  it('Add with shapes that do not broadcast', () => {
    const execute = vi.spyOn(backend, 'execute');
    expect(() => add(zeros([2, 3], 'float32', backend), zeros([4], 'float32', backend))).toThrow(ShapeError);
    expect(() => add(zeros([2, 3], 'float32', backend), zeros([4], 'float32', backend))).toThrow(
      /^Add: shapes \[2, 3\] and \[4\] do not broadcast/,
    );
    expect(execute).not.toHaveBeenCalled();
    execute.mockRestore();
  });
});

describe('backend errors', () => {
  it('mixing reference and tfjs tensors raises BackendError', () => {
    const onTfjs = zeros([2], 'float32', backend);
    const onReference = zeros([2], 'float32', new ReferenceBackend());
    expect(() => add(onTfjs, onReference)).toThrow(BackendError);
    expect(() => add(onReference, onTfjs)).toThrow(
      'Add: inputs live on different backends (reference and tfjs-cpu); move them to one backend first',
    );
  });

  it('a result whose shape or dtype differs from the resolved output raises BackendError naming the op', () => {
    const a = tf.tensor([1, 2, 3], [3], 'float32');
    const operand = { handle: a, shape: [3], dtype: 'float32' as const };
    const before = tf.memory().numTensors;
    expect(() => backend.execute('Neg', [operand], {}, { shape: [1, 3], dtype: 'float32' })).toThrow(
      'Neg: backend "tfjs-cpu" produced [3] float32, expected [1, 3] float32',
    );
    expect(() => backend.execute('Neg', [operand], {}, { shape: [3], dtype: 'int32' })).toThrow(BackendError);
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });

  it('a tfjs "kernel not registered" error becomes UnsupportedOpError naming the primitive', () => {
    const tfjsError = new Error("Kernel 'Erf' not registered for backend 'wasm'");
    const translated = translateTfjsError('Erf', 'tfjs-wasm', 'wasm', tfjsError);
    expect(translated).toBeInstanceOf(UnsupportedOpError);
    expect((translated as UnsupportedOpError).op).toBe('Erf');
    expect((translated as Error).message).toBe(
      'Erf: not supported on backend "tfjs-wasm": tfjs kernel(s) Erf not registered for wasm',
    );
    const other = new Error('something else');
    expect(translateTfjsError('Erf', 'tfjs-wasm', 'wasm', other)).toBe(other);
  });

  it('a backend refuses to run once tfjs has switched to the other flavor', async () => {
    const x = tensor([1, -2], [2], 'float32', backend);
    await TfjsBackend.create('wasm');
    try {
      expect(() => add(x, x)).toThrow(BackendError);
      expect(() => add(x, x)).toThrow(/^Add: backend "tfjs-cpu" needs tfjs's active backend to be cpu, but it is wasm/);
    } finally {
      backend = await TfjsBackend.create('cpu');
    }
    expect(add(x, x).toArray()).toEqual([2, -4]);
  });
});
