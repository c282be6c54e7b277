// cpuSlice and cpuTranspose give exactly what tfjs's own Slice and Transpose kernels give, for
// every dtype, contiguous and strided windows, batched matrices, empty and rank-0 tensors; and
// matMulTransposed gives exactly tf.matMul's product.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { cpuSlice, cpuTranspose, matMulTransposed } from './cpu-copies.js';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

function input(shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) =>
    dtype === 'bool' ? (i * 7) % 3 === 0 : ((i * 37) % 101) - 50 + (dtype === 'float32' ? 0.25 : 0),
  );
  return tf.tensor(values as number[], shape, dtype);
}

function same(a: tf.Tensor, b: tf.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
}

describe.each(['float32', 'int32', 'bool'] as const)('%s', (dtype) => {
  test.each([
    ['a time step', [3, 5, 20], [0, 2, 0], [3, 1, 20]],
    ['a gate (columns)', [4, 32], [0, 8], [4, 8]],
    ['a box on every axis', [4, 5, 6], [1, 2, 3], [2, 3, 2]],
    ['contiguous rows', [6, 4], [2, 0], [3, 4]],
    ['short runs', [5, 3], [0, 1], [5, 1]],
    ['empty', [3, 4], [1, 2], [0, 2]],
    ['rank 1', [9], [2], [5]],
  ])('slice: %s', (_, shape, begin, size) => {
    tf.tidy(() => {
      const x = input(shape, dtype);
      same(cpuSlice(x, begin, size), tf.slice(x, begin, size));
    });
  });

  test.each([
    ['a matrix', [37, 70], [1, 0]],
    ['batched matrices', [3, 33, 5], [0, 2, 1]],
    ['a rotation of axes', [2, 3, 4], [2, 0, 1]],
    ['rank 4', [2, 3, 4, 5], [1, 3, 0, 2]],
    ['rank 1', [7], [0]],
    ['rank 0', [], []],
    ['empty', [0, 3], [1, 0]],
  ])('transpose: %s', (_, shape, perm) => {
    tf.tidy(() => {
      const x = input(shape, dtype);
      same(cpuTranspose(x, perm), tf.transpose(x, perm));
    });
  });
});

describe('matMulTransposed', () => {
  test.each([
    ['a matrix', [20, 7], [7, 9]],
    ['batched', [3, 20, 7], [3, 7, 9]],
  ])('%s: the same numbers as tf.matMul, with b a plain tensor or a transposed copy', (_, sa, sb) => {
    tf.tidy(() => {
      const a = input(sa, 'float32');
      const b = input(sb, 'float32');
      same(matMulTransposed(a, b), tf.matMul(a, b));
      const perm = sb.map((__, i) => (i < sb.length - 2 ? i : 2 * sb.length - 3 - i));
      const bt = input([...sb.slice(0, -2), sb[sb.length - 1], sb[sb.length - 2]], 'float32');
      const copy = cpuTranspose(bt, perm); // remembers bt
      same(matMulTransposed(a, copy), tf.matMul(a, tf.transpose(bt, perm)));
      bt.dispose(); // the original is gone: the copy itself is used
      same(matMulTransposed(a, copy), tf.matMul(a, copy));
    });
  });
});
