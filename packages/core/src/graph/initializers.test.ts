// Initializers: the distributions Keras and PyTorch users expect, seeded and deterministic.
import { describe, expect, test } from 'vitest';
import { fans, initialValues } from './initializers.js';

const stats = (v: Float64Array) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, std: Math.sqrt(variance), min: Math.min(...v), max: Math.max(...v) };
};

describe('initializers', () => {
  test('fans follow the [in, out] kernel convention', () => {
    expect(fans([64, 256])).toEqual({ fanIn: 64, fanOut: 256 });
    expect(fans([3, 8, 16])).toEqual({ fanIn: 24, fanOut: 48 });
  });

  test('glorot-uniform: U(-a, a) with a = sqrt(6 / (fanIn + fanOut))', () => {
    const v = initialValues({ kind: 'glorot-uniform' }, [200, 300], 1);
    const a = Math.sqrt(6 / 500);
    const s = stats(v);
    expect(s.max).toBeLessThanOrEqual(a);
    expect(s.min).toBeGreaterThanOrEqual(-a);
    expect(s.std).toBeCloseTo(a / Math.sqrt(3), 3); // std of U(-a, a)
  });

  test('he-normal: N(0, 2 / fanIn); glorot-normal: N(0, 2 / (fanIn + fanOut))', () => {
    expect(stats(initialValues({ kind: 'he-normal' }, [250, 400], 2)).std).toBeCloseTo(Math.sqrt(2 / 250), 3);
    expect(stats(initialValues({ kind: 'glorot-normal' }, [250, 400], 3)).std).toBeCloseTo(Math.sqrt(2 / 650), 3);
    const he = stats(initialValues({ kind: 'he-uniform' }, [250, 400], 4));
    expect(he.max).toBeLessThanOrEqual(Math.sqrt(6 / 250));
  });

  test('orthogonal: rows (or columns) are orthonormal, times the gain', () => {
    for (const [rows, cols] of [
      [6, 4],
      [4, 6],
      [5, 5],
    ]) {
      const w = initialValues({ kind: 'orthogonal', gain: 2 }, [rows, cols], 5);
      const k = Math.min(rows, cols);
      // Gram matrix of the shorter side's vectors = gain^2 I.
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          let dot = 0;
          for (let t = 0; t < Math.max(rows, cols); t++) {
            dot += rows >= cols ? w[t * cols + i] * w[t * cols + j] : w[i * cols + t] * w[j * cols + t];
          }
          expect(dot).toBeCloseTo(i === j ? 4 : 0, 10);
        }
      }
    }
  });

  test('zeros, ones, constant, and determinism in the seed', () => {
    expect(Array.from(initialValues({ kind: 'zeros' }, [3], 0))).toEqual([0, 0, 0]);
    expect(Array.from(initialValues({ kind: 'constant', value: 0.5 }, [2], 0))).toEqual([0.5, 0.5]);
    expect(initialValues({ kind: 'normal', std: 1 }, [10], 7)).toEqual(
      initialValues({ kind: 'normal', std: 1 }, [10], 7),
    );
    expect(initialValues({ kind: 'normal', std: 1 }, [10], 7)).not.toEqual(
      initialValues({ kind: 'normal', std: 1 }, [10], 8),
    );
  });
});
