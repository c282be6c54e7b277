// Runtime.watch on eager waves: the filter's kind, node and port narrow what arrives, `every: N`
// keeps the steps divisible by N (the step a trainer passes, not the wave count), and a bad `every`
// is one ConfigError naming it.
import { describe, expect, test } from 'vitest';
import { ReferenceBackend } from '../reference/reference-backend.js';
import { tensor } from '../creation.js';
import { ConfigError } from '../errors.js';
import { Linear, SquaredErrorLoss } from '../testing/test-layers.js';
import { GraphBuilder } from './builder.js';
import { Runtime } from './runtime.js';

function runtime(): Runtime {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 2]);
  const target = g.input('target', ['batch', 1]);
  const h = g.node('h', new Linear({ units: 3 }), x);
  const y = g.node('y', new Linear({ units: 1 }), h);
  g.output('loss', g.node('loss', new SquaredErrorLoss(), { prediction: y, target }));
  return new Runtime(g.build(), { seed: 1, backend: new ReferenceBackend() });
}

describe('Runtime.watch', () => {
  test('kind, node, port and every narrow the messages', () => {
    const rt = runtime();
    const b = rt.backend;
    const feeds = { x: tensor([[1, 2]], [1, 2], 'float32', b), target: tensor([[0]], [1, 1], 'float32', b) };
    const seen: string[] = [];
    const subs = [
      rt
        .watch({ kind: 'param-grad', node: 'h', every: 2 })
        .subscribe((m) => seen.push(`pg ${m.step} ${m.node}.${m.param}`)),
      rt
        .watch({ kind: 'activation', port: 'y.y' })
        .subscribe((m) => seen.push(`act ${m.step} ${m.from.node}.${m.from.port}`)),
      rt.watch({ kind: 'param-grad', port: 'y.bias' }).subscribe((m) => seen.push(`pg ${m.step} ${m.node}.${m.param}`)),
    ];
    // Trainer steps 3 and 4 (their numbers given, as a trainer gives them), then a plain forward wave (5).
    for (const step of [3, 4]) rt.gradients(feeds, { loss: 'loss', seed: 0, step });
    rt.forward(feeds);
    for (const s of subs) s.unsubscribe();
    expect(seen).toEqual([
      'act 3 y.y',
      'pg 3 y.bias',
      'act 4 y.y',
      'pg 4 y.bias',
      'pg 4 h.kernel',
      'pg 4 h.bias',
      'act 5 y.y',
    ]);
    expect(rt.watches).toEqual([]);
  });

  test('a bad `every` is a ConfigError naming it', () => {
    expect(() => runtime().watch({ every: 0 })).toThrow(ConfigError);
    expect(() => runtime().watch({ every: 1.5 })).toThrow(/watch: "every" must be a positive integer, got 1.5/);
  });
});
