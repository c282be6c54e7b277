// The gradients of windows cut from one tensor (Slice): joined with one Concat per set of disjoint
// windows, exact, and still right for overlapping, gapped and multi-axis windows.
import { describe, expect, test } from 'vitest';
import type { Operand, TensorSpec } from '../backend.js';
import { tensor } from '../creation.js';
import { withBackend } from '../engine.js';
import { add } from '../ops/add.js';
import { concat } from '../ops/concat.js';
import { mul } from '../ops/mul.js';
import type { AttrsOf, OpName } from '../ops/registry.js';
import { reshape } from '../ops/reshape.js';
import { slice } from '../ops/slice.js';
import { tanh } from '../ops/tanh.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import type { Tensor } from '../tensor.js';
import { checkGradients, makeInput } from '../testing/index.js';
import { vjp } from './grad.js';

/** A reference backend that lists the primitives it runs. */
class CountingBackend extends ReferenceBackend {
  readonly ran: string[] = [];
  override execute<K extends OpName>(
    op: K,
    inputs: readonly Operand<Float64Array>[],
    attrs: AttrsOf<K>,
    out: TensorSpec,
  ): Float64Array {
    this.ran.push(op);
    return super.execute(op, inputs, attrs, out);
  }
}

const flat = (x: Tensor) => reshape(x, [-1]);
const step = (x: Tensor, t: number) => reshape(slice(x, [t], [t + 1], [1]), [x.shape[0], x.shape[2]]);

/** An unrolled recurrence over x [batch, time, 2·units]: a time step, then two gates, per step. */
function recurrence(x: Tensor): Tensor {
  const [, time, width] = x.shape as number[];
  const units = width / 2;
  let h: Tensor | undefined;
  const hs: Tensor[] = [];
  for (let t = 0; t < time; t++) {
    const z = h ? add(step(x, t), concat([h, h], 1)) : step(x, t);
    const a = tanh(slice(z, [0], [units], [-1]));
    const b = tanh(slice(z, [units], [width], [-1]));
    h = mul(a, b);
    hs.push(reshape(h, [h.shape[0], 1, units]));
  }
  return concat(hs, 1);
}

describe('gradients of windows', () => {
  const backend = new ReferenceBackend();

  test('disjoint windows covering an axis: each element is its window gradient, exactly', () => {
    withBackend(backend, () => {
      const x = makeInput({ shape: [2, 4, 3] }, 1, backend);
      const { grads } = vjp(
        (v) => add(add(mul(step(v, 0), 2), mul(step(v, 1), -3)), add(mul(step(v, 2), 0.5), mul(step(v, 3), 7))),
        [x],
        tensor(Array(6).fill(1), [2, 3]),
      );
      const byStep = [2, -3, 0.5, 7];
      expect(grads[0].toArray()).toEqual([0, 1].flatMap(() => byStep.flatMap((c) => [c, c, c])));
    });
  });

  test('an unrolled recurrence: one Concat per tensor, no Pad', () => {
    const counting = new CountingBackend();
    withBackend(counting, () => {
      const x = makeInput({ shape: [2, 5, 4] }, 2, counting);
      const dy = makeInput({ shape: [2, 5, 2] }, 3, counting);
      counting.ran.length = 0;
      vjp(recurrence, [x], dy);
      expect(counting.ran).not.toContain('Pad');
      // Forward: the stacking Concat and one per step on h; backward: one per step for the gate
      // gradients of z, and one for the time steps of x.
      expect(counting.ran.filter((op) => op === 'Concat')).toHaveLength(1 + 4 + 5 + 1);
    });
  });

  test.each([
    ['an unrolled recurrence', recurrence, [2, 5, 4]],
    [
      'overlapping windows',
      (x: Tensor) => add(mul(slice(x, [0], [3], [1]), slice(x, [1], [4], [1])), tanh(slice(x, [2], [5], [1]))),
      [2, 6, 3],
    ],
    [
      'windows with gaps',
      (x: Tensor) => concat([tanh(slice(x, [1], [2], [1])), mul(slice(x, [4], [6], [1]), slice(x, [4], [6], [1]))], 1),
      [2, 7, 3],
    ],
    [
      'windows on two axes and a two-axis window',
      (x: Tensor) =>
        concat(
          [
            flat(tanh(slice(x, [0], [2], [0]))),
            flat(mul(slice(x, [1], [3], [1]), slice(x, [1], [3], [1]))),
            flat(slice(x, [1, 1], [3, 4], [0, 1])),
          ],
          0,
        ),
      [3, 4],
    ],
    [
      'a whole-axis window and a dense use',
      (x: Tensor) => add(mul(slice(x, [0], [100], [0]), x), tanh(slice(x, [1], [2], [1]))),
      [2, 3],
    ],
  ] as const)('%s: gradient matches finite differences', (_, fn, shape) => {
    withBackend(backend, () => {
      const x = makeInput({ shape: [...shape] }, 4, backend);
      for (const r of checkGradients(fn as (x: Tensor) => Tensor, [x], [0], 5)) {
        expect(Math.abs(r.numeric)).toBeGreaterThan(1e-4);
        expect(r.relError, `numeric ${r.numeric} vs analytic ${r.analytic}`).toBeLessThan(1e-6);
      }
    });
  });
});
