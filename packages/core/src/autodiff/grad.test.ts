// grad / valueAndGrad / vjp against hand-derived derivatives, gradient accumulation of a value used
// more than once, and misuse errors.
import { describe, expect, test } from 'vitest';
import { tensor } from '../creation.js';
import { getBackend, tidy } from '../engine.js';
import { GradientError } from '../errors.js';
import { add } from '../ops/add.js';
import { exp } from '../ops/exp.js';
import { matMul } from '../ops/mat-mul.js';
import { mul } from '../ops/mul.js';
import { reduceSum } from '../ops/reduce-sum.js';
import { sub } from '../ops/sub.js';
import { tanh } from '../ops/tanh.js';
import { grad, valueAndGrad, vjp } from './grad.js';
import { Tape } from './tape.js';

describe('grad', () => {
  test('a value used twice gets the summed gradient: d/dx sum(x*x + x) = 2x + 1', () => {
    const x = tensor([1.5, -2, 0.25]);
    const [g] = grad((a) => reduceSum(add(mul(a, a), a)))(x);
    expect(g.toArray()).toEqual([4, -3, 1.5]);
  });

  test('a value used in three branches: f = sum(tanh(x) * exp(x) - x), by hand', () => {
    const xs = [0.3, -0.7];
    const [g] = grad((a) => reduceSum(sub(mul(tanh(a), exp(a)), a)))(tensor(xs));
    const expected = xs.map((v) => (1 - Math.tanh(v) ** 2) * Math.exp(v) + Math.tanh(v) * Math.exp(v) - 1);
    g.toArray().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 14));
  });

  test('two inputs: d/dA sum(A @ B) = 1 @ B^T, d/dB = A^T @ 1', () => {
    const A = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const B = tensor([
      [1, -1, 2],
      [0, 3, -2],
    ]);
    const { value, grads } = valueAndGrad((a, b) => reduceSum(matMul(a, b)))(A, B);
    // sum(A @ B) = sum_ij (rowsum-free) = sum_k (sum_i A_ik)(sum_j B_kj) = 9*2 + 12*1 = 30
    expect(value.item()).toBe(30);
    expect(grads[0].toArray()).toEqual([2, 1, 2, 1, 2, 1]); // row sums of B, per column k
    expect(grads[1].toArray()).toEqual([9, 9, 9, 12, 12, 12]); // column sums of A
  });

  test('an input the function does not use gets a zero gradient of its shape', () => {
    const [, gy] = grad((x) => reduceSum(x))(tensor([1, 2]), tensor([[1, 2, 3]]));
    expect(gy.shape).toEqual([1, 3]);
    expect(gy.toArray()).toEqual([0, 0, 0]);
  });

  test('vjp with an explicit output gradient', () => {
    const { value, grads } = vjp((x) => mul(x, 3), [tensor([1, 2])], tensor([10, -1]));
    expect(value.toArray()).toEqual([3, 6]);
    expect(grads[0].toArray()).toEqual([30, -3]);
  });

  test('grad of a non-scalar function is a GradientError', () => {
    expect(() => grad((x) => mul(x, 2))(tensor([1, 2]))).toThrow(GradientError);
    expect(() => grad((x) => mul(x, 2))(tensor([1, 2]))).toThrow(/one-element output/);
  });

  test('vjp with an output gradient of the wrong shape is a GradientError', () => {
    expect(() => vjp((x) => mul(x, 2), [tensor([1, 2])], tensor([1, 2, 3]))).toThrow(
      /output gradient has shape \[3\], expected \[2\]/,
    );
  });

  test('intermediates are freed: only the value and gradients survive', () => {
    const backend = getBackend();
    const x = tensor([1, 2, 3]);
    const before = backend.numTensors();
    const { value, grads } = valueAndGrad((a) => reduceSum(tanh(mul(exp(a), a))))(x);
    expect(backend.numTensors()).toBe(before + 2);
    value.dispose();
    grads[0].dispose();
    expect(backend.numTensors()).toBe(before);
  });
});

describe('Tape', () => {
  test('records only primitives that depend on watched tensors', () => {
    const w = tensor([1, 2]);
    const c = tensor([3, 4]);
    const tape = new Tape().watch(w);
    tape.run(() => {
      mul(c, c); // independent of w: not recorded
      add(mul(w, c), c);
    });
    expect(tape.entries.map((e) => e.prim.name)).toEqual(['Mul', 'Add']);
  });

  test('backward returns gradients for watched tensors', () => {
    tidy(() => {
      const w = tensor([1, 2]);
      const tape = new Tape().watch(w);
      const y = tape.run(() => mul(w, w));
      const grads = tape.backward([y], [tensor([1, 1])]);
      expect(grads.get(w.id)?.toArray()).toEqual([2, 4]);
    });
  });
});
