// The README's 20-line example, run as written: it must train (XOR with a tanh hidden layer).
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, ReferenceBackend, Runtime, createTrainer, tensor, withBackend } from '@ganglion/core';
import { Dense, MSE } from '@ganglion/layers';

describe('README example', () => {
  test('the composed graph trains', async () => {
    await withBackend(new ReferenceBackend(), async () => {
      const g = new GraphBuilder();
      const x = g.input('x', ['batch', 2]);
      const target = g.input('target', ['batch', 1]);
      const hidden = g.node('hidden', new Dense({ units: 16, activation: 'tanh' }), x);
      const y = g.node('out', new Dense({ units: 1 }), hidden);
      g.output('y', y);
      g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));

      const runtime = new Runtime(g.build(), { seed: 42 });
      const trainer = createTrainer({ optimizer: 'adam', lr: 0.01, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } });
      const data = { x: tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), target: tensor([[0], [1], [1], [0]]) };
      const events = await lastValueFrom(trainer.fit(runtime, data, { epochs: 500, batchSize: 4 }).pipe(toArray()));
      const epochs = events.filter((e) => e.type === 'epoch') as { trainLoss: number }[];
      expect(epochs.length).toBe(500);
      expect(epochs[0].trainLoss).toBeGreaterThan(0.2);
      expect(epochs[499].trainLoss).toBeLessThan(0.01);
      const out = runtime.forward(data).y.toArray();
      [0, 1, 1, 0].forEach((t, i) => expect(Math.abs(out[i] - t)).toBeLessThan(0.15));
    });
  });
});
