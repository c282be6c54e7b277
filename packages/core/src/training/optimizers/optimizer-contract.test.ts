// The optimizer contract: `update` is pure (the optimizer's state does not move), `stepScalars`
// carries every step-dependent number, and `step` is `stepScalars` + `updateAll` + `commit`.
// Values are hand-computed SGD-with-momentum and Adam steps.
import { describe, expect, test } from 'vitest';
import { tensor } from '../../creation.js';
import { TOKENS } from '../../di/tokens.js';
import { withBackend } from '../../engine.js';
import { ReferenceBackend } from '../../reference/reference-backend.js';
import type { Tensor } from '../../tensor.js';
import { createTrainingContainer } from '../create-trainer.js';
import { type ParamTarget, updateAll } from '../optimizer.js';

const optimizer = (name: string, optimizerOptions = {}) =>
  createTrainingContainer({ optimizer: name, optimizerOptions }).get(TOKENS.Optimizer);
const store = (entries: Record<string, number[]>): ParamTarget & { map: Map<string, Tensor> } => {
  const map = new Map(Object.entries(entries).map(([k, v]) => [k, tensor(v)]));
  return { map, get: (k) => map.get(k)!, set: (k, t) => void map.set(k, t) };
};

describe('optimizer contract', () => {
  test('SGD momentum 0.9, lr 0.1, g = 0.5 twice: p 1 → 0.95 → 0.855 (buf 0.5, then 0.95)', () =>
    withBackend(new ReferenceBackend(), () => {
      const sgd = optimizer('sgd', { momentum: 0.9 });
      const params = store({ w: [1] });
      const grads = new Map([['w', tensor([0.5])]]);
      expect(sgd.stepScalars(0.1, 1)).toEqual({ lr: 0.1 });
      // update is pure: the state does not move until commit.
      const u = sgd.update(params.get('w'), grads.get('w')!, sgd.slotsOf('w'), sgd.stepScalars(0.1, 1));
      expect(u.param.toArray()[0]).toBeCloseTo(0.95, 12);
      expect([sgd.stepCount, sgd.slotsOf('w')]).toEqual([0, {}]);
      sgd.commit(params, new Map([['w', u]]));
      expect(sgd.stepCount).toBe(1);
      expect(sgd.slotsOf('w').momentum_buffer.toArray()[0]).toBeCloseTo(0.5, 12);
      sgd.step(params, grads, 0.1);
      expect(sgd.stepCount).toBe(2);
      expect(params.get('w').toArray()[0]).toBeCloseTo(0.855, 12);
      expect(sgd.slotsOf('w').momentum_buffer.toArray()[0]).toBeCloseTo(0.95, 12);
    }));

  test("Adam's step scalars are lr / (1 − β1ᵗ) and √(1 − β2ᵗ); AdamW adds 1 − lr·weightDecay", () => {
    expect(optimizer('adam').stepScalars(0.01, 2)).toEqual({
      stepSize: 0.01 / (1 - 0.81),
      bias2: Math.sqrt(1 - 0.999 ** 2),
    });
    expect(optimizer('adamw', { weightDecay: 0.1 }).stepScalars(0.01, 1).decay).toBeCloseTo(0.999, 15);
  });

  test('updateAll from explicit params and slots equals the eager step, and leaves the state alone', () =>
    withBackend(new ReferenceBackend(), () => {
      const [a, b] = [optimizer('adam'), optimizer('adam')];
      const [pa, pb] = [store({ w: [1, -2], v: [3] }), store({ w: [1, -2], v: [3] })];
      const grads = new Map([
        ['w', tensor([0.1, -0.3])],
        ['v', tensor([2])],
      ]);
      a.step(pa, grads, 0.01);
      const updates = updateAll(
        b,
        grads,
        (k) => pb.get(k),
        () => ({}),
        b.stepScalars(0.01, 1),
      );
      expect(b.stepCount).toBe(0);
      for (const k of ['w', 'v']) expect(updates.get(k)!.param.toArray()).toEqual(pa.get(k).toArray());
      // Adam's first step moves each weight by lr·sign(g) (m̂ = g, v̂ = g²), up to eps.
      expect(pa.get('w').toArray()).toEqual([expect.closeTo(0.99, 6), expect.closeTo(-1.99, 6)]);
    }));
});
