// A custom layer written by a user, outside packages/layers: a gated Highway layer,
//   t = σ(x W_t + b_t),  y = t ⊙ relu(x W_h + b_h) + (1 − t) ⊙ x.
// It composes with built-in layers, trains, and its gradients are right without a backward.
import { describe, expect, test } from 'vitest';
import {
  GraphBuilder,
  Layer,
  type LayerSignature,
  ReferenceBackend,
  Runtime,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
  matMul,
  mul,
  relu,
  sigmoid,
  sub,
  tidy,
  withBackend,
} from '@ganglion/core';
import { makeInput } from '@ganglion/core/testing';
import { Dense, MSE } from '@ganglion/layers';
import { checkLayerGradients } from '@ganglion/layers/testing';

class Highway extends Layer<{ gateBias?: number }> {
  static override readonly kind = 'Highway';
  readonly inputs = [{ name: 'x' }];

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    const n = lastDim('x', x);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [
        { name: 'w_h', shape: [n, n], init: { kind: 'glorot-uniform' } },
        { name: 'b_h', shape: [n], init: { kind: 'zeros' } },
        { name: 'w_t', shape: [n, n], init: { kind: 'glorot-uniform' } },
        // A negative gate bias starts the layer close to the identity (the usual trick).
        { name: 'b_t', shape: [n], init: { kind: 'constant', value: this.config.gateBias ?? -1 } },
      ],
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>): Tensor {
    const t = sigmoid(add(matMul(x, p.w_t), p.b_t));
    const h = relu(add(matMul(x, p.w_h), p.b_h));
    return add(mul(t, h), mul(sub(1, t), x));
  }
}

describe('a custom layer plugin', () => {
  test('has correct gradients through the backward wave without writing a backward', () => {
    const checks = checkLayerGradients(new Highway({ gateBias: 0.3 }), { x: { shape: [3, 4] } });
    expect(checks.map((c) => c.what)).toEqual([
      'input x',
      'param layer.w_h',
      'param layer.b_h',
      'param layer.w_t',
      'param layer.b_t',
    ]);
    for (const c of checks) expect(c.relError, c.what).toBeLessThan(1e-6);
  });

  test('composes with built-in layers and trains', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const x = g.input('x', ['batch', 4]);
      const target = g.input('target', ['batch', 1]);
      const h = g.node(
        'highway2',
        new Highway({}),
        g.node('highway1', new Highway({}), g.node('in', new Dense({ units: 4, activation: 'tanh' }), x)),
      );
      const y = g.node('out', new Dense({ units: 1 }), h);
      g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
      const graph = g.build();
      expect(graph.summary()).toMatch(/highway1\s+Highway\s+\[batch, 4\]\s+40/);
      const runtime = new Runtime(graph, { seed: 4 });
      // A smooth nonlinear target: y = sin(x0) + x1 * x2.
      const xs = makeInput({ shape: [32, 4] }, 8);
      const xv = xs.dataSync();
      const tv = Array.from({ length: 32 }, (_, i) => Math.sin(xv[4 * i]) + xv[4 * i + 1] * xv[4 * i + 2] * 0.5);
      const targetT = makeInput({ shape: [32, 1], fill: { values: tv } }, 0);
      const losses: number[] = [];
      for (let step = 0; step < 150; step++) {
        tidy(() => {
          const r = runtime.trainStep({ x: xs, target: targetT }, { loss: 'loss' });
          losses.push(r.loss);
          for (const [k, grad] of r.paramGrads) runtime.params.set(k, sub(runtime.params.get(k), mul(grad, 0.1)));
        });
      }
      expect(losses[149]).toBeLessThan(losses[0] * 0.2);
    });
  });
});
