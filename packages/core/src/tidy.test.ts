// tidy scopes: intermediates are disposed, results and kept tensors survive, errors clean up.
import { describe, expect, test } from 'vitest';
import { tensor } from './creation.js';
import { getBackend, keep, tidy } from './engine.js';
import { BackendError } from './errors.js';
import { add } from './ops/add.js';
import { mul } from './ops/mul.js';

describe('tidy', () => {
  test('frees intermediates and keeps the result', () => {
    const b = getBackend();
    const x = tensor([1, 2]);
    const before = b.numTensors();
    const y = tidy(() => add(mul(x, x), mul(x, 2)));
    expect(b.numTensors()).toBe(before + 1);
    expect(y.toArray()).toEqual([3, 8]);
  });

  test('keeps tensors returned in objects and arrays, and kept ones', () => {
    const x = tensor([1]);
    let kept!: ReturnType<typeof add>;
    const out = tidy(() => {
      kept = keep(add(x, 1));
      return { a: [mul(x, 3)], b: add(x, 5) };
    });
    expect(out.a[0].toArray()).toEqual([3]);
    expect(out.b.toArray()).toEqual([6]);
    expect(kept.toArray()).toEqual([2]);
  });

  test('disposes everything when the function throws', () => {
    const b = getBackend();
    const x = tensor([1]);
    const before = b.numTensors();
    expect(() =>
      tidy(() => {
        add(x, 1);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(b.numTensors()).toBe(before);
  });

  test('using a disposed tensor is a BackendError', () => {
    const x = tidy(() => {
      const t = tensor([1]);
      add(t, 1);
      return t;
    });
    const y = tensor([2]);
    y.dispose();
    expect(x.toArray()).toEqual([1]);
    expect(() => add(y, 1)).toThrow(BackendError);
    expect(() => add(y, 1)).toThrow(/already disposed/);
  });
});
