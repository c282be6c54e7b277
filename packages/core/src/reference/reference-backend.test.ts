// The reference backend against hand-computed values (it is the ground truth, so it gets checked
// against independent maths, not against itself), and the promoted primitives against their
// decompositions.
import { describe, expect, test } from 'vitest';
import { tensor } from '../creation.js';
import { BackendError, IndexError } from '../errors.js';
import * as op from '../ops/index.js';
import { ReferenceBackend } from './reference-backend.js';

const close = (a: number[], b: number[], digits = 12) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], digits));

describe('reference kernels, by hand', () => {
  test('MatMul with broadcast batch', () => {
    const a = tensor([
      [
        [1, 2],
        [3, 4],
      ],
    ]); // [1, 2, 2]
    const b = tensor([
      [
        [1, 0],
        [0, 1],
      ],
      [
        [2, 1],
        [0, 1],
      ],
    ]); // [2, 2, 2]
    const y = op.matMul(a, b);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.toArray()).toEqual([1, 2, 3, 4, 2, 3, 6, 7]);
  });

  test('matMul numpy 1-D semantics', () => {
    expect(
      op
        .matMul(
          tensor([1, 2]),
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        )
        .toArray(),
    ).toEqual([9, 12, 15]);
    expect(
      op
        .matMul(
          tensor([
            [1, 2],
            [3, 4],
          ]),
          tensor([1, 1]),
        )
        .toArray(),
    ).toEqual([3, 7]);
  });

  test('Softmax and LogSoftmax equal their decompositions, and are stable at large inputs', () => {
    const x = [1, 2, 3, 1000];
    const m = Math.max(...x);
    const z = x.reduce((s, v) => s + Math.exp(v - m), 0);
    close(
      op.softmax(tensor(x)).toArray(),
      x.map((v) => Math.exp(v - m) / z),
    );
    close(
      op.logSoftmax(tensor(x)).toArray(),
      x.map((v) => v - m - Math.log(z)),
    );
    const small = tensor([
      [0.5, -1],
      [2, 0],
    ]);
    close(op.softmax(small, 0).toArray(), op.div(op.exp(small), op.reduceSum(op.exp(small), 0, true)).toArray(), 14);
  });

  test('Erf at known values (Abramowitz & Stegun table)', () => {
    close(
      op.erf(tensor([0, 0.5, 1, 2, 3, -1])).toArray(),
      [0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999779095030014, -0.8427007929497149],
      14,
    );
  });

  test('reductions', () => {
    const x = tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    expect(op.reduceSum(x, 1).toArray()).toEqual([9, 12]);
    expect(op.reduceMean(x, 0).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(op.reduceMax(x).toArray()).toEqual([6]);
    expect(op.reduceMax(x, -1, true).shape).toEqual([2, 1]);
  });

  test('layout: transpose, concat, slice, pad, expand, reshape', () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(op.transpose(x).toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(op.concat([x, tensor([[7], [8]])], 1).toArray()).toEqual([1, 2, 3, 7, 4, 5, 6, 8]);
    expect(op.slice(x, [1, -2], [2, 100], [0, 1]).toArray()).toEqual([5, 6]);
    expect(op.pad(tensor([[1]]), [1, 0, 0, 2], 9).toArray()).toEqual([9, 9, 9, 1, 9, 9]);
    expect(op.expand(tensor([[1], [2]]), [2, 3]).toArray()).toEqual([1, 1, 1, 2, 2, 2]);
    expect(op.reshape(x, [3, -1]).shape).toEqual([3, 2]);
  });

  test('Gather and ScatterAdd (repeated indices accumulate)', () => {
    const table = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const ids = tensor(
      [
        [2, 0],
        [2, 2],
      ],
      undefined,
      'int32',
    );
    expect(op.gather(table, ids).shape).toEqual([2, 2, 2]);
    expect(op.gather(table, ids).toArray()).toEqual([5, 6, 1, 2, 5, 6, 5, 6]);
    expect(op.gather(table, tensor([1], [1], 'int32'), 1).toArray()).toEqual([2, 4, 6]);
    const updates = tensor([
      [
        [1, 1],
        [2, 2],
      ],
      [
        [3, 3],
        [4, 4],
      ],
    ]);
    expect(op.scatterAdd(ids, updates, 0, 3).toArray()).toEqual([2, 2, 0, 0, 8, 8]);
  });

  test('int32 semantics: Div and Cast truncate toward zero; Cast to bool is x != 0', () => {
    const a = tensor([7, -7, 6], [3], 'int32');
    const b = tensor([2, 2, -4], [3], 'int32');
    expect(op.div(a, b).toArray()).toEqual([3, -3, -1]);
    expect(op.cast(tensor([1.9, -1.9, 0.2]), 'int32').toArray()).toEqual([1, -1, 0]);
    expect(op.cast(tensor([0, -0.5, 2]), 'bool').toArray()).toEqual([0, 1, 1]);
  });

  test('comparisons, where, clip, sign, pow, max/min', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([3, 2, 1]);
    expect(op.equal(a, b).toArray()).toEqual([0, 1, 0]);
    expect(op.less(a, b).toArray()).toEqual([1, 0, 0]);
    expect(op.greater(a, b).toArray()).toEqual([0, 0, 1]);
    expect(op.where(op.less(a, b), a, 0).toArray()).toEqual([1, 0, 0]);
    expect(op.clip(tensor([-5, 0.5, 5]), -1, 1).toArray()).toEqual([-1, 0.5, 1]);
    expect(op.sign(tensor([-2, 0, 3])).toArray()).toEqual([-1, 0, 1]);
    expect(op.pow(tensor([2, 9]), tensor([3, 0.5])).toArray()).toEqual([8, 3]);
    expect(op.max(a, 2).toArray()).toEqual([2, 2, 3]);
    expect(op.min(a, 2).toArray()).toEqual([1, 2, 2]);
  });

  test('random ops are deterministic in the seed and have the right moments', () => {
    const u1 = op.randomUniform([20000], 5, -1, 3).toArray();
    const u2 = op.randomUniform([20000], 5, -1, 3).toArray();
    const u3 = op.randomUniform([20000], 6, -1, 3).toArray();
    expect(u1).toEqual(u2);
    expect(u1).not.toEqual(u3);
    expect(Math.min(...u1)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u1)).toBeLessThan(3);
    const mean = u1.reduce((s, v) => s + v, 0) / u1.length;
    expect(mean).toBeCloseTo(1, 1); // uniform(-1, 3) has mean 1; std error 0.008
    const n = op.randomNormal([20000], 9, 2, 0.5).toArray();
    const nm = n.reduce((s, v) => s + v, 0) / n.length;
    const nv = n.reduce((s, v) => s + (v - nm) ** 2, 0) / n.length;
    expect(nm).toBeCloseTo(2, 1);
    expect(Math.sqrt(nv)).toBeCloseTo(0.5, 1);
  });
});

describe('reference backend errors', () => {
  test('out-of-range Gather indices are an IndexError naming the op, index and axis size', () => {
    const table = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(() => op.gather(table, tensor([0, 2], [2], 'int32'))).toThrow(IndexError);
    expect(() => op.gather(table, tensor([0, 2], [2], 'int32'))).toThrow(
      /Gather: index 2 at position 1 is out of range for axis 0 of size 2/,
    );
    expect(() => op.gather(table, tensor([-1], [1], 'int32'))).toThrow(/index -1/);
  });

  test('an unknown op is a BackendError naming it', () => {
    const b = new ReferenceBackend();
    expect(() => b.execute('Frobnicate' as never, [], {} as never, { shape: [], dtype: 'float32' })).toThrow(
      BackendError,
    );
    expect(() => b.execute('Frobnicate' as never, [], {} as never, { shape: [], dtype: 'float32' })).toThrow(
      /unknown op "Frobnicate"/,
    );
  });
});
