// The Trainer's numbers against computations done another way, on the float64 reference backend:
// `evaluate` (and the validation loss `fit` reports) against the mean loss per example computed by
// hand over batches of different sizes; and the non-finite stop on a step whose loss is finite but
// whose gradient is infinite or NaN (sqrt at 0), which must leave weights and optimizer state as
// they were.
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  GraphBuilder,
  ReferenceBackend,
  Runtime,
  type TrainEvent,
  TrainingError,
  arrayDataset,
  createTrainer,
  tensor,
  setBackend,
} from '../index.js';
import { Linear, RootOfGap, SquaredErrorLoss } from '../testing/test-layers.js';

const X = [
  [0.5, -1, 2],
  [1.5, 0.25, -0.75],
  [-2, 1, 0.5],
  [0, 0.3, 1.2],
  [1, 1, -1],
  [-0.4, 2.2, 0.1],
  [3, -0.5, 0.6],
];
const Y = [
  [1, 0],
  [0, 1],
  [-1, 2],
  [0.5, 0.5],
  [2, -1],
  [0, 0],
  [1.5, -0.5],
];

function denseMse() {
  const g = new GraphBuilder();
  const x = g.input('x', ['batch', 3]);
  const target = g.input('target', ['batch', 2]);
  g.output(
    'loss',
    g.node('loss', new SquaredErrorLoss(), { prediction: g.node('dense', new Linear({ units: 2 }), x), target }),
  );
  return g.build();
}

/** The squared error of each example (mean over its 2 outputs), in float64 from the weights' values. */
function exampleLosses(runtime: Runtime): number[] {
  const k = runtime.params.get('dense.kernel').toArray(); // [3, 2], row-major
  const b = runtime.params.get('dense.bias').toArray();
  return X.map((x, n) => {
    let s = 0;
    for (let j = 0; j < 2; j++) {
      const y = x[0] * k[j] + x[1] * k[2 + j] + x[2] * k[4 + j] + b[j];
      s += (y - Y[n][j]) ** 2;
    }
    return s / 2;
  });
}

beforeAll(() => setBackend(new ReferenceBackend()));

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('Trainer.evaluate', () => {
  test('is the mean loss per example: batches of 3, 3 and 1 weigh 3, 3 and 1', async () => {
    const runtime = new Runtime(denseMse(), { seed: 4 });
    runtime.params.set(
      'dense.kernel',
      tensor([
        [0.3, -0.2],
        [0.1, 0.4],
        [-0.5, 0.25],
      ]),
    );
    runtime.params.set('dense.bias', tensor([0.05, -0.1]));
    const data = arrayDataset({ x: tensor(X), target: tensor(Y) }, { batchSize: 3, shuffle: false });
    const perExample = exampleLosses(runtime);
    const expected = mean(perExample);
    const got = await createTrainer().evaluate(runtime, data);
    expect(Math.abs(got - expected)).toBeLessThan(1e-12);
    // The other reading, a mean over batches, is a different number here: the test tells them apart.
    const perBatch = mean([mean(perExample.slice(0, 3)), mean(perExample.slice(3, 6)), perExample[6]]);
    expect(Math.abs(perBatch - expected)).toBeGreaterThan(1e-2);
  });

  test('fit reports the validation loss of the weights it ends with', async () => {
    const runtime = new Runtime(denseMse(), { seed: 5 });
    const trainer = createTrainer({ optimizer: 'adam', lr: 0.05 });
    const train = arrayDataset({ x: tensor(X), target: tensor(Y) }, { batchSize: 2, shuffle: false });
    const validation = arrayDataset({ x: tensor(X), target: tensor(Y) }, { batchSize: 4, shuffle: false });
    const events: TrainEvent[] = await lastValueFrom(
      trainer.fit(runtime, train, { steps: 3, validation }).pipe(toArray()),
    );
    const done = events.find((e) => e.type === 'done');
    expect(done?.type === 'done' && done.steps).toBe(3);
    const expected = mean(exampleLosses(runtime));
    expect(Math.abs((done as { valLoss: number }).valLoss - expected)).toBeLessThan(1e-12);
  });

  test('an empty dataset is a TrainingError', async () => {
    const runtime = new Runtime(denseMse(), { seed: 4 });
    await expect(createTrainer().evaluate(runtime, { batches: () => [] })).rejects.toThrow(
      /evaluate: the dataset yielded no batches/,
    );
  });
});

describe('the non-finite stop', () => {
  function rootGraph() {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 1]);
    const target = g.input('target', ['batch', 1]);
    g.output(
      'loss',
      g.node('loss', new SquaredErrorLoss(), { prediction: g.node('root', new RootOfGap(), x), target }),
    );
    return g.build();
  }

  // target 1 at the gap: dL/dy = −1 there, so dL/dw = −1 / (2·0) = −∞ and the norm is ∞.
  // target 0 at the gap: dL/dy = 0 there, so dL/dw = 0 / 0 = NaN.
  test.each([
    ['an infinite', 1, /the loss is 0\.\d+ and the gradient norm Infinity/],
    ['a NaN', 0, /the loss is 0\.\d+ and the gradient norm NaN/],
  ])(
    'a finite loss with %s gradient stops before the update; weights and optimizer state stay',
    async (_, atGap, message) => {
      const runtime = new Runtime(rootGraph(), { seed: 1 });
      const trainer = createTrainer({
        optimizer: 'adam',
        lr: 0.1,
        clipping: 'global-norm',
        clippingOptions: { maxNorm: 1 },
      });
      const good = trainer.trainStep(runtime, { x: tensor([[0.5], [1]]), target: tensor([[1], [1]]) });
      expect(Number.isFinite(good.gradNorm)).toBe(true);
      const w = runtime.params.get('root.w').toArray();
      const slots = () => [...trainer.optimizer.getState().tensors].map(([k, t]) => [k, t.toArray()]);
      const slotsBefore = slots();
      expect(slotsBefore.length).toBe(2); // Adam's exp_avg and exp_avg_sq for w

      // Row 2 sits exactly at the gap; row 1 keeps the loss away from 0.
      const bad = { x: tensor([[w[0] - 1], [w[0]]]), target: tensor([[0.5], [atGap]]) };
      let error: unknown;
      try {
        trainer.trainStep(runtime, bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TrainingError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toMatch(/^step 2: .*the weights of step 1 are kept$/);
      expect(runtime.params.get('root.w').toArray()).toEqual(w);
      expect(slots()).toEqual(slotsBefore);
      expect(trainer.step).toBe(1);
    },
  );

  test('fit stops on it with a TrainingError after the good steps', async () => {
    const runtime = new Runtime(rootGraph(), { seed: 1 });
    const trainer = createTrainer({ optimizer: 'sgd', lr: 0.1 });
    const snapshots: number[][] = [];
    const data = {
      *batches() {
        for (let i = 0; i < 3; i++) {
          const w = runtime.params.get('root.w').toArray();
          snapshots.push(w);
          // The third batch sits at the gap of the weight the first two steps left.
          yield i < 2
            ? { x: tensor([[0.5], [1]]), target: tensor([[1], [1]]) }
            : { x: tensor([[w[0] - 1], [w[0]]]), target: tensor([[0.5], [1]]) };
        }
      },
    };
    const events: TrainEvent[] = [];
    const error = await new Promise<unknown>((resolve) =>
      trainer
        .fit(runtime, data, { epochs: 1 })
        .subscribe({ next: (e) => events.push(e), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(error).toBeInstanceOf(TrainingError);
    expect(events.filter((e) => e.type === 'batch').length).toBe(2);
    expect(runtime.params.get('root.w').toArray()).toEqual(snapshots[2]);
  });
});
