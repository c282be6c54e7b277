// A graph input wired into several ports receives the sum of their gradients in `inputGrads`:
// into two nodes, into both ports of one node, and into both at once. Each is checked against
// float64 central finite differences of the loss on the reference backend, element by element.
import { beforeAll, describe, expect, test } from 'vitest';
import { type Graph, GraphBuilder, ReferenceBackend, Runtime, type Tensor, setBackend, tensor } from '@ganglion/core';
import { makeInput, maxRelError } from '@ganglion/core/testing';
import { Add, Concat, Dense, MSE, Tanh } from './index.js';

beforeAll(() => setBackend(new ReferenceBackend()));

/** dL/dx by central differences: L(x + εe_i) − L(x − εe_i) over 2ε, for each element i. */
function numericInputGrad(runtime: Runtime, feeds: Record<string, Tensor>, name: string, eps = 1e-6): number[] {
  const x = feeds[name];
  const base = x.toArray();
  const lossAt = (values: number[]) => runtime.forward({ ...feeds, [name]: tensor(values, x.shape) }).loss.item();
  return base.map((_, i) => {
    const plus = [...base];
    const minus = [...base];
    plus[i] += eps;
    minus[i] -= eps;
    return (lossAt(plus) - lossAt(minus)) / (2 * eps);
  });
}

const cases: [string, (g: GraphBuilder, x: ReturnType<GraphBuilder['input']>) => ReturnType<GraphBuilder['input']>][] =
  [
    // x -> dense, x -> tanh -> dense2, then added.
    [
      'two nodes',
      (g, x) =>
        g.node(
          'sum',
          new Add(),
          g.node('dense', new Dense({ units: 2 }), x),
          g.node('dense2', new Dense({ units: 2 }), g.node('act', new Tanh(), x)),
        ),
    ],
    // concat(x, x) -> dense: each port gets a different slice of the gradient.
    [
      'both ports of one node',
      (g, x) => g.node('dense', new Dense({ units: 2 }), g.node('pair', new Concat({ axis: 1 }), x, x)),
    ],
    // Three edges: both ports of concat, and a dense.
    [
      'one node twice and another once',
      (g, x) =>
        g.node(
          'sum',
          new Add(),
          g.node('dense', new Dense({ units: 2 }), g.node('pair', new Concat({ axis: 1 }), x, x)),
          g.node('dense2', new Dense({ units: 2 }), x),
        ),
    ],
  ];

function build(body: (typeof cases)[number][1]): Graph {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 3]);
  const target = g.input('target', ['batch', 2]);
  g.output('loss', g.node('loss', new MSE(), { prediction: body(g, x), target }));
  return g.build();
}

describe('a graph input feeding several ports', () => {
  test.each(cases)('%s: inputGrads.x is the sum of every consumer’s gradient', (_, body) => {
    const runtime = new Runtime(build(body), { seed: 11 });
    const feeds = { x: makeInput({ shape: [4, 3] }, 5), target: makeInput({ shape: [4, 2] }, 6) };
    const r = runtime.trainStep(feeds, { loss: 'loss' });
    const analytic = r.inputGrads.get('x')!.toArray();
    const numeric = numericInputGrad(runtime, feeds, 'x');
    expect(Math.max(...numeric.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(maxRelError(analytic, numeric)).toBeLessThan(1e-7);
    // The target feeds one port: its gradient is checked the same way.
    expect(maxRelError(r.inputGrads.get('target')!.toArray(), numericInputGrad(runtime, feeds, 'target'))).toBeLessThan(
      1e-7,
    );
  });
});
