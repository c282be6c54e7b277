// build() validation: each GraphError names the node, the port and the shapes involved.
import { describe, expect, test } from 'vitest';
import type { TensorSpec } from '../backend.js';
import { GraphError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { GraphBuilder, graphFromJSON, sequential } from './builder.js';
import { Layer, type LayerSignature, expectPort } from './layer.js';
import { Linear } from '../testing/test-layers.js';
import { Runtime } from './runtime.js';
import { tensor } from '../creation.js';

/** Expects its input's last dim to be exactly `dim`. */
class Needs extends Layer<{ dim: number }> {
  static override readonly kind = 'Needs';
  readonly inputs = [{ name: 'x' }, { name: 'extra', optional: true }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', this.config.dim]);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }], params: [] };
  }
  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return x;
  }
}

const expectGraphError = (fn: () => unknown, message: RegExp) => {
  expect(fn).toThrow(GraphError);
  expect(fn).toThrow(message);
};

describe('GraphBuilder.build validation', () => {
  test('shape disagreement names both nodes, both ports and both shapes', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [32, 64, 16]);
    const lstm2 = g.node('lstm2', new Linear({ units: 128 }), x);
    g.output('y', g.node('head', new Needs({ dim: 256 }), lstm2));
    expectGraphError(
      () => g.build(),
      /^Needs "head": input "x" has shape \[32, 64, 128\], expected \[\.\.\., 256\] \(dim 2 should be 256\) \("x" is fed by "lstm2\.y" with shape \[32, 64, 128\] float32\)$/,
    );
  });

  test('dtype disagreement', () => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 8], 'int32');
    g.output('y', g.node('dense', new Linear({ units: 4 }), ids));
    expectGraphError(
      () => g.build(),
      /Linear "dense": input "x" has dtype int32, expected float32 \("x" is fed by "ids\.y" with shape \[batch, 8\] int32\)/,
    );
  });

  test('a cycle names the nodes on it', () => {
    const g = new GraphBuilder();
    g.input('x', [2, 4]);
    g.node('a', new Linear({ units: 4 }), 'c');
    g.node('b', new Linear({ units: 4 }), 'a');
    g.node('c', new Linear({ units: 4 }), 'b');
    g.output('y', 'c');
    expectGraphError(() => g.build(), /cycle: "a" -> "c" -> "b" -> "a"/);
  });

  test('a node feeding itself is a cycle', () => {
    const g = new GraphBuilder();
    g.input('x', [2, 4]);
    g.output('y', g.node('a', new Linear({ units: 4 }), 'a'));
    expectGraphError(() => g.build(), /cycle: node "a" feeds its own input "x"/);
  });

  test('an unconnected required input names the node and port', () => {
    const g = new GraphBuilder();
    g.input('x', [2, 4]);
    g.output('y', g.node('head', new Needs({ dim: 4 })));
    expectGraphError(() => g.build(), /^Needs "head": input "x" is not connected$/);
  });

  test('an unconnected optional input is fine', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 4]);
    g.output('y', g.node('head', new Needs({ dim: 4 }), x));
    expect(g.build().nodes.map((n) => n.name)).toEqual(['head']);
  });

  test('duplicate node names', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 4]);
    const a = g.node('dense', new Linear({ units: 4 }), x);
    g.output('y', g.node('dense', new Linear({ units: 2 }), a));
    expectGraphError(() => g.build(), /duplicate node name "dense": a Linear node and a Linear node both have it/);
    const h = new GraphBuilder();
    const x2 = h.input('x', [2, 4]);
    h.output('y', h.node('x', new Linear({ units: 4 }), x2));
    expectGraphError(() => h.build(), /duplicate node name "x": a input and a Linear node both have it/);
  });

  test('unknown nodes and ports', () => {
    const g = new GraphBuilder();
    g.input('x', [2, 4]);
    g.output('y', g.node('a', new Linear({ units: 4 }), 'nope'));
    expectGraphError(() => g.build(), /Linear "a": input "x" refers to unknown node "nope"/);
    const h = new GraphBuilder();
    const x = h.input('x', [2, 4]);
    const a = h.node('a', new Linear({ units: 4 }), x);
    h.output('y', h.node('b', new Linear({ units: 4 }), a.out('h')));
    expectGraphError(
      () => h.build(),
      /Linear "b": input "x" refers to "a\.h", but node "a" has no output port "h" \(ports: y\)/,
    );
    const k = new GraphBuilder();
    const x3 = k.input('x', [2, 4]);
    k.output('y', k.node('a', new Linear({ units: 4 }), { x: x3, z: x3 }));
    expectGraphError(() => k.build(), /Linear "a": has no input port "z" \(ports: x\)/);
  });

  test('too many positional inputs, no outputs', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 4]);
    g.output('y', g.node('a', new Linear({ units: 4 }), x, x));
    expectGraphError(() => g.build(), /Linear "a": got 2 inputs, but it has 1 ports \(x\)/);
    const h = new GraphBuilder();
    h.node('a', new Linear({ units: 4 }), h.input('x', [2, 4]));
    expectGraphError(() => h.build(), /the graph has no outputs/);
  });

  test('shapes resolve with symbolic dims; JSON round trip; unknown kind on load', () => {
    const graph = sequential([new Linear({ units: 8 }), ['head', new Linear({ units: 3 })]], {
      input: ['batch', 'time', 5],
    });
    expect(graph.spec({ node: 'head', port: 'y' }).shape).toEqual(['batch', 'time', 3]);
    const json = JSON.parse(JSON.stringify(graph.toJSON()));
    const back = graphFromJSON(json, (kind) => (kind === 'Linear' ? Linear : undefined) as never);
    expect(back.toJSON()).toEqual(graph.toJSON());
    expectGraphError(
      () => graphFromJSON(json, () => undefined),
      /node "linear_1": unknown layer kind "Linear"; bind its plugin in the layer registry/,
    );
  });

  test('freeze: frozen parameters get no gradient, survive the JSON round trip, and bad names are errors', () => {
    const graph = sequential(
      [
        ['a', new Linear({ units: 4 })],
        ['b', new Linear({ units: 1 })],
      ],
      { input: [1, 5] },
    );
    const frozen = graph.freeze((key) => key.startsWith('a.'));
    const trainable = (g: typeof graph) =>
      g
        .params()
        .filter((p) => p.spec.trainable !== false)
        .map((p) => `${p.node}.${p.spec.name}`);
    expect(trainable(graph)).toEqual(graph.params().map((p) => `${p.node}.${p.spec.name}`));
    expect(trainable(frozen)).toEqual(
      graph
        .params()
        .filter((p) => p.node === 'b')
        .map((p) => `b.${p.spec.name}`),
    );
    const resolve = (kind: string) => (kind === 'Linear' ? Linear : undefined) as never;
    const json = JSON.parse(JSON.stringify(frozen.toJSON()));
    expect(trainable(graphFromJSON(json, resolve))).toEqual(trainable(frozen));
    expect(graph.toJSON().nodes.every((n) => n.frozen === undefined)).toBe(true);
    // The gradient of the loss reaches only b's parameters.
    const runtime = new Runtime(frozen, { seed: 1 });
    const x = tensor(
      Float32Array.from({ length: 5 }, (_, i) => Math.sin(i)),
      [1, 5],
    );
    const grads = runtime.gradients({ x }, { loss: 'y', seed: 0 }).paramGrads;
    expect([...grads.keys()].sort()).toEqual(trainable(frozen).sort());
    json.nodes[0].frozen = ['nope'];
    expectGraphError(
      () => graphFromJSON(json, resolve),
      /node "a": frozen parameter "nope" is not one of its parameters/,
    );
  });

  test('summary and Mermaid', () => {
    const graph = sequential([new Linear({ units: 8 }), ['head', new Linear({ units: 3 })]], { input: ['batch', 5] });
    const summary = graph.summary();
    // kernel + bias: 5·8 + 8 and 8·3 + 3.
    expect(summary).toMatch(/linear_1\s+Linear\s+\[batch, 8\]\s+48/);
    expect(summary).toMatch(/head\s+Linear\s+\[batch, 3\]\s+27/);
    expect(summary).toMatch(/total params: 75 \(trainable: 75\)/);
    const mermaid = graph.toMermaid();
    expect(mermaid.split('\n')[0]).toBe('flowchart TD');
    expect(mermaid).toContain('n_linear_1 -->|"[batch, 8]"| n_head');
    expect(mermaid).toContain('n_x -->|"[batch, 5]"| n_linear_1');
  });
});
