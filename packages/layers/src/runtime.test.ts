// The message runtime with real layers: the exact message sequence of one training step, stateful
// streaming vs whole-sequence processing, dropout at inference, and feed errors.
import { describe, expect, test } from 'vitest';
import {
  GraphBuilder,
  GraphError,
  type Message,
  ReferenceBackend,
  Runtime,
  type Tensor,
  add,
  concat,
  forNode,
  forPort,
  formatPortRef,
  keep,
  matMul,
  ofKind,
  reshape,
  slice,
  tensor,
  tidy,
  transpose,
  withBackend,
} from '@ganglion/core';
import { makeInput, maxRelError } from '@ganglion/core/testing';
import { Add, Dense, Dropout, GRU, LSTM, MSE, Tanh } from './index.js';

const describeMessage = (m: Message): string => {
  switch (m.kind) {
    case 'activation':
      return `activation ${formatPortRef(m.from)}`;
    case 'gradient':
      return `gradient ${formatPortRef(m.from)} -> ${formatPortRef(m.to)}`;
    case 'param-grad':
      return `param-grad ${m.node}.${m.param}`;
    default:
      return m.kind;
  }
};

function threeLayerGraph() {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 3]);
  const target = g.input('target', ['batch', 2]);
  const h = g.node('act', new Tanh(), g.node('dense1', new Dense({ units: 4 }), x));
  const y = g.node('dense2', new Dense({ units: 2 }), h);
  g.output('y', y);
  g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
  return g.build();
}

describe('runtime', () => {
  test('messages$ shows exactly the forward wave, then the backward wave, of one training step', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(threeLayerGraph(), { seed: 1 });
      const seen: string[] = [];
      const steps = new Set<number>();
      const sub = runtime.messages$.subscribe((m) => {
        seen.push(describeMessage(m));
        steps.add(m.step);
      });
      runtime.trainStep(
        { x: makeInput({ shape: [2, 3] }, 1), target: makeInput({ shape: [2, 2] }, 2) },
        { loss: 'loss' },
      );
      sub.unsubscribe();
      expect(seen).toEqual([
        'activation x.y',
        'activation dense1.y',
        'activation act.y',
        'activation dense2.y',
        'activation target.y',
        'activation loss.y',
        'gradient loss.seed -> loss.y',
        'gradient loss.prediction -> dense2.y',
        'gradient loss.target -> target.y',
        'param-grad dense2.kernel',
        'param-grad dense2.bias',
        'gradient dense2.x -> act.y',
        'gradient act.x -> dense1.y',
        'param-grad dense1.kernel',
        'param-grad dense1.bias',
        'gradient dense1.x -> x.y',
      ]);
      expect([...steps]).toEqual([1]);
    });
  });

  test('messages$ filtered by kind and node, e.g. to log gradient norms', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(threeLayerGraph(), { seed: 1 });
      const norms: string[] = [];
      const sub = runtime.messages$.pipe(ofKind('param-grad'), forNode('dense1')).subscribe((m) => {
        const g = Array.from(m.grad.dataSync());
        norms.push(`${m.param}:${Math.sqrt(g.reduce((s, v) => s + v * v, 0)) > 0}`);
      });
      runtime.trainStep(
        { x: makeInput({ shape: [2, 3] }, 1), target: makeInput({ shape: [2, 2] }, 2) },
        { loss: 'loss' },
      );
      sub.unsubscribe();
      expect(norms).toEqual(['kernel:true', 'bias:true']);
    });
  });

  test('a port feeding two consumers gets the sum of their gradients (fan-out)', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      const x = g.input('x', [2, 3]);
      const target = g.input('target', [2, 3]);
      const h = g.node('shared', new Dense({ units: 3 }), x);
      const a = g.node('a', new Tanh(), h);
      const b = g.node('b', new Dense({ units: 3 }), h);
      const y = g.node('residual', new Add(), a, b);
      g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
      const runtime = new Runtime(g.build(), { seed: 2 });
      const toShared: Tensor[] = [];
      runtime.messages$
        .pipe(ofKind('gradient'), forPort('shared.y'))
        .subscribe((m) => toShared.push(keep(reshape(m.grad, m.grad.shape))));
      const r = runtime.trainStep(
        { x: makeInput({ shape: [2, 3] }, 3), target: makeInput({ shape: [2, 3] }, 4) },
        { loss: 'loss' },
      );
      expect(toShared.length).toBe(2);
      // dL/dx = (g_a + g_b) @ kernelᵀ: the node summed both consumers' gradients before sending its own.
      const expected = matMul(add(toShared[0], toShared[1]), transpose(runtime.params.get('shared.kernel')));
      expect(maxRelError(r.inputGrads.get('x')!.dataSync(), expected.dataSync())).toBeLessThan(1e-12);
      expect(maxRelError(toShared[0].dataSync(), toShared[1].dataSync())).toBeGreaterThan(1e-3);
    });
  });

  test('streaming one step per wave equals the whole sequence (LSTM and GRU)', () => {
    for (const layer of [new LSTM({ units: 5 }), new GRU({ units: 4 })]) {
      withBackend(new ReferenceBackend(), () =>
        tidy(() => {
          const g = new GraphBuilder();
          g.output('y', g.node('rnn', layer, g.input('x', ['batch', 'time', 3])));
          const runtime = new Runtime(g.build(), { seed: 5 });
          const x = makeInput({ shape: [2, 7, 3] }, 9);
          const whole = runtime.forward({ x }).y;
          const steps: Tensor[] = [];
          runtime.resetState();
          for (let t = 0; t < 7; t++)
            steps.push(runtime.forward({ x: slice(x, [t], [t + 1], [1]) }, { stream: true, position: t }).y);
          const streamed = concat(steps, 1);
          expect(streamed.shape).toEqual(whole.shape);
          expect(maxRelError(streamed.dataSync(), whole.dataSync())).toBeLessThan(1e-6);
          // Without stream, each wave starts from zero state again: the second chunk differs.
          const chunk = slice(x, [1], [2], [1]);
          expect(maxRelError(runtime.forward({ x: chunk }).y.dataSync(), steps[1].dataSync())).toBeGreaterThan(1e-3);
        }),
      );
    }
  });

  test('the activation messages of a streaming wave carry the state', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      g.output('y', g.node('lstm', new LSTM({ units: 2 }), g.input('x', [1, 1, 2])));
      const runtime = new Runtime(g.build(), { seed: 5 });
      const states: string[][] = [];
      runtime.messages$
        .pipe(ofKind('activation'), forNode('lstm'))
        .subscribe((m) => states.push(Object.keys(m.state ?? {})));
      runtime.forward({ x: tensor([[[1, 2]]]) }, { stream: true });
      expect(states[0]).toEqual(['h', 'c']);
    });
  });

  test('dropout is the identity at inference and drops at rate p in training', () => {
    withBackend(new ReferenceBackend(), () => {
      const g = new GraphBuilder();
      g.output('y', g.node('drop', new Dropout({ rate: 0.25 }), g.input('x', [100, 40])));
      const runtime = new Runtime(g.build());
      const x = makeInput({ shape: [100, 40], fill: 'positive' }, 1);
      expect(runtime.forward({ x }).y.toArray()).toEqual(x.toArray());
      const y = runtime.forward({ x }, { training: true }).y.dataSync();
      const xs = x.dataSync();
      const zeros = y.filter((v) => v === 0).length / y.length;
      expect(zeros).toBeGreaterThan(0.22);
      expect(zeros).toBeLessThan(0.28);
      y.forEach((v, i) => v !== 0 && expect(v).toBeCloseTo(xs[i] / 0.75, 12));
    });
  });

  test('feeding the wrong shape, dtype or name is a GraphError naming the input', () => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(threeLayerGraph());
      const x = makeInput({ shape: [2, 3] }, 1);
      const t = makeInput({ shape: [2, 2] }, 2);
      expect(() => runtime.forward({ x: makeInput({ shape: [2, 4] }, 1), target: t })).toThrow(
        new GraphError('input "x": fed [2, 4] float32, expected [batch, 3] float32'),
      );
      expect(() => runtime.forward({ x })).toThrow(/input "target" was not fed/);
      expect(() => runtime.forward({ x, target: t, extra: t })).toThrow(/"extra" is not a graph input/);
      expect(() => runtime.trainStep({ x, target: t }, { loss: 'nope' })).toThrow(/no graph output "nope"/);
      expect(() => runtime.trainStep({ x, target: t }, { loss: 'y' })).toThrow(
        /loss output "y" has shape \[2, 2\], expected one element/,
      );
      // The runtime still works after errors.
      expect(runtime.forward({ x, target: t }).y.shape).toEqual([2, 2]);
    });
  });
});
