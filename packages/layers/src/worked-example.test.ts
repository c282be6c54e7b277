// A textbook worked example: a two-layer ReLU network with a softmax output and the loss
// ½‖y − y'‖². The backward wave's gradients must equal the closed-form formulas, computed here by
// hand in float64 with plain arrays.
import { describe, expect, test } from 'vitest';
import {
  GraphBuilder,
  Layer,
  type LayerSignature,
  ReferenceBackend,
  Runtime,
  type Tensor,
  type TensorSpec,
  expectPort,
  mul,
  reduceSum,
  sub,
  tensor,
  withBackend,
} from '@ganglion/core';
import { Dense, ReLU, Softmax } from './index.js';

/** ½‖y − y'‖², summed over the batch. */
class HalfSquaredError extends Layer<Record<string, never>> {
  static override readonly kind = 'HalfSquaredError';
  readonly inputs = [{ name: 'y' }, { name: 'target' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    expectPort('target', inputs.target, 'float32', expectPort('y', inputs.y, 'float32').shape);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }
  forward({ y, target }: Readonly<Record<string, Tensor>>): Tensor {
    const d = sub(y, target);
    return mul(reduceSum(mul(d, d)), 0.5);
  }
}

type M = number[][];
const matmul = (a: M, b: M): M => a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)));
const T = (a: M): M => a[0].map((_, j) => a.map((r) => r[j]));
const addRow = (a: M, b: number[]): M => a.map((r) => r.map((v, j) => v + b[j]));
const relu = (a: M): M => a.map((r) => r.map((v) => Math.max(v, 0)));
const mask = (d: M, z: M): M => d.map((r, i) => r.map((v, j) => (z[i][j] > 0 ? v : 0)));
const colSum = (a: M): number[] => a[0].map((_, j) => a.reduce((s, r) => s + r[j], 0));
const reshape2 = (flat: ArrayLike<number>, rows: number, cols: number): M =>
  Array.from({ length: rows }, (_, i) => Array.from(flat).slice(i * cols, (i + 1) * cols));

describe('a two-layer ReLU network, by hand', () => {
  test('backward-wave gradients equal the closed-form formulas', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const x = g.input('x', ['batch', 4]);
      const target = g.input('target', ['batch', 3]);
      const h1 = g.node('relu1', new ReLU(), g.node('dense1', new Dense({ units: 5 }), x));
      const h2 = g.node(
        'relu2',
        new ReLU(),
        g.node('dense2', new Dense({ units: 5, biasInit: { kind: 'constant', value: 0.1 } }), h1),
      );
      const y = g.node('softmax', new Softmax(), g.node('dense3', new Dense({ units: 3 }), h2));
      g.output('loss', g.node('loss', new HalfSquaredError({}), { y, target }));
      const runtime = new Runtime(g.build(), { seed: 11 });

      const X = [
        [0.5, -1.2, 0.3, 2.0],
        [1.5, 0.2, -0.7, 0.1],
      ];
      const Y = [
        [0, 1, 0],
        [1, 0, 0],
      ];
      const r = runtime.trainStep({ x: tensor(X), target: tensor(Y) }, { loss: 'loss' });

      const P = (k: string, rows: number, cols: number) => reshape2(runtime.params.get(k).dataSync(), rows, cols);
      const W1 = P('dense1.kernel', 4, 5),
        b1 = P('dense1.bias', 1, 5)[0];
      const W2 = P('dense2.kernel', 5, 5),
        b2 = P('dense2.bias', 1, 5)[0];
      const W3 = P('dense3.kernel', 5, 3),
        b3 = P('dense3.bias', 1, 3)[0];
      // Forward by hand.
      const z1 = addRow(matmul(X, W1), b1),
        a1 = relu(z1);
      const z2 = addRow(matmul(a1, W2), b2),
        a2 = relu(z2);
      const z3 = addRow(matmul(a2, W3), b3);
      const yv = z3.map((row) => {
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const s = e.reduce((p, q) => p + q, 0);
        return e.map((v) => v / s);
      });
      const loss = 0.5 * yv.flat().reduce((s, v, i) => s + (v - Y.flat()[i]) ** 2, 0);
      expect(r.loss).toBeCloseTo(loss, 13);
      // Backward by the closed forms: δ3 = J_softmaxᵀ (y − y') = y ⊙ (e − <y, e>), e = y − y'.
      const d3 = yv.map((row, i) => {
        const e = row.map((v, j) => v - Y[i][j]);
        const dot = row.reduce((s, v, j) => s + v * e[j], 0);
        return row.map((v, j) => v * (e[j] - dot));
      });
      const d2 = mask(matmul(d3, T(W3)), z2);
      const d1 = mask(matmul(d2, T(W2)), z1);
      const expected: Record<string, number[]> = {
        'dense3.kernel': matmul(T(a2), d3).flat(),
        'dense3.bias': colSum(d3),
        'dense2.kernel': matmul(T(a1), d2).flat(),
        'dense2.bias': colSum(d2),
        'dense1.kernel': matmul(T(X), d1).flat(),
        'dense1.bias': colSum(d1),
      };
      for (const [k, v] of Object.entries(expected)) {
        const got = Array.from(r.paramGrads.get(k)!.dataSync());
        got.forEach((g2, i) => expect(g2, `${k}[${i}]`).toBeCloseTo(v[i], 13));
      }
      const dx = matmul(d1, T(W1)).flat();
      Array.from(r.inputGrads.get('x')!.dataSync()).forEach((g2, i) => expect(g2).toBeCloseTo(dx[i], 13));
      // Gradient w.r.t. the target: −(y − y').
      Array.from(r.inputGrads.get('target')!.dataSync()).forEach((g2, i) =>
        expect(g2).toBeCloseTo(-(yv.flat()[i] - Y.flat()[i]), 13),
      );
      // And something nonzero was checked.
      expect(Math.max(...expected['dense1.kernel'].map(Math.abs))).toBeGreaterThan(1e-4);
    });
  });
});
