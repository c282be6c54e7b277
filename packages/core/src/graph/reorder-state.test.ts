// Runtime.reorderState on a layer whose state is a running sum [batch, d] and a wave counter (a
// scalar, like the KV cache's `end`): rows are gathered (permuted, repeated, dropped), the scalar is
// shared and kept, and a row out of range is one ConfigError naming the node and the state, with the
// state left as it was. LSTM and KV-cache state are checked in packages/integration (decoding.test.ts).
import { describe, expect, test } from 'vitest';
import type { TensorSpec } from '../backend.js';
import { scalar, tensor, zeros } from '../creation.js';
import { ConfigError } from '../errors.js';
import { add } from '../ops/add.js';
import { reshape } from '../ops/reshape.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import type { Tensor } from '../tensor.js';
import { GraphBuilder } from './builder.js';
import { Layer, type LayerContext, type LayerResult, type LayerSignature, expectPort } from './layer.js';
import { Runtime } from './runtime.js';

/** y = x + the sum of the x fed before (x [batch, 1, d]); `waves` counts the waves seen. */
class RunningSum extends Layer<Record<string, never>> {
  static override readonly kind = 'RunningSum';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, 1, null]);
    return {
      outputs: [
        { name: 'y', dtype: 'float32', shape: x.shape },
        { name: 'waves', dtype: 'int32', shape: [] },
      ],
      params: [],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>, _p: unknown, ctx: LayerContext): LayerResult {
    const [batch, , d] = x.shape as number[];
    const sum = ctx.state?.sum ?? zeros([batch, d], 'float32', x.backend);
    const y = add(x, reshape(sum, [batch, 1, d]));
    const waves = add(ctx.state?.waves ?? scalar(0, 'int32', x.backend), scalar(1, 'int32', x.backend));
    return { outputs: { y, waves }, state: { sum: reshape(y, [batch, d]), waves } };
  }
}

function runtime(): Runtime {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 1, 2]);
  const node = g.node('acc', new RunningSum({}), x);
  g.output('y', node);
  g.output('waves', node.out('waves'));
  return new Runtime(g.build(), { backend: new ReferenceBackend() });
}

const rows = (rt: Runtime, values: number[][]) =>
  rt.forward({ x: tensor(values, [values.length, 1, 2], 'float32', rt.backend) }, { stream: true });

describe('Runtime.reorderState', () => {
  test('gathers the rows of every batch-first state tensor and keeps the scalars', () => {
    const rt = runtime();
    rows(rt, [
      [1, 2],
      [10, 20],
      [100, 200],
    ]);
    rt.reorderState([2, 0, 0, 1]); // three rows become four
    const out = rows(rt, [
      [0, 0],
      [0, 0],
      [5, 5],
      [0, 0],
    ]);
    expect(out.y.toArray()).toEqual([100, 200, 1, 2, 6, 7, 10, 20]);
    expect(out.waves.item()).toBe(2);
    rt.reorderState(Int32Array.of(3)); // and down to one
    expect(rows(rt, [[0, 0]]).y.toArray()).toEqual([10, 20]);
  });

  test('without state it does nothing', () => {
    const rt = runtime();
    rt.reorderState([5, 5]);
    expect(rows(rt, [[1, 1]]).y.toArray()).toEqual([1, 1]);
  });

  test('a row out of range is one ConfigError, and the state is left as it was', () => {
    const rt = runtime();
    rows(rt, [
      [1, 2],
      [3, 4],
    ]);
    expect(() => rt.reorderState([0, 2])).toThrow(ConfigError);
    expect(() => rt.reorderState([0, 2])).toThrow(
      'reorderState: row 2 is out of range for state "sum" of node "acc" (shape [2, 2], 2 rows)',
    );
    expect(() => rt.reorderState([0.5])).toThrow('row 0.5 is out of range');
    expect(() => rt.reorderState([])).toThrow('reorderState: no rows given, expected at least one row index');
    const out = rows(rt, [
      [0, 0],
      [0, 0],
    ]);
    expect(out.y.toArray()).toEqual([1, 2, 3, 4]);
  });
});
