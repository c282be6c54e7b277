// Each optimizer against torch.optim (1.13, float64) on the same initial weights and gradients for
// three steps: fixtures/optimizers.json, made by fixtures/make_optimizer_fixtures.py. The
// optimizers are resolved by name through the DI container, as the CLI does; the fixtures' PyTorch
// option names (weight_decay) become Ganglion's camelCase ones (weightDecay).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { tensor } from '../../creation.js';
import { ConfigError } from '../../errors.js';
import { withBackend } from '../../engine.js';
import { ReferenceBackend } from '../../reference/reference-backend.js';
import type { Tensor } from '../../tensor.js';
import { maxRelError } from '../../testing/values.js';
import { createTrainingContainer } from '../create-trainer.js';
import { TOKENS } from '../../di/tokens.js';
import type { ParamTarget } from '../optimizer.js';

interface T {
  shape: number[];
  data: number[];
}
interface OptCase {
  name: string;
  optimizer: string;
  options: Record<string, number | boolean | number[]>;
  initial: Record<string, T>;
  grads: Record<string, T>[];
  after: Record<string, T>[];
}

const cases: OptCase[] = JSON.parse(
  readFileSync(new URL('../../../fixtures/optimizers.json', import.meta.url), 'utf8'),
).cases;

class Params implements ParamTarget {
  readonly map = new Map<string, Tensor>();
  get(k: string) {
    return this.map.get(k)!;
  }
  set(k: string, t: Tensor) {
    this.map.set(k, t);
  }
}

describe('optimizers equal torch.optim after 3 steps', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    withBackend(new ReferenceBackend(), () => {
      const { lr, ...pytorch } = c.options;
      const options = Object.fromEntries(
        Object.entries(pytorch).map(([k, v]) => [k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()), v]),
      );
      const container = createTrainingContainer({
        optimizer: c.optimizer,
        optimizerOptions: options,
        lr: lr as number,
      });
      const optimizer = container.get(TOKENS.Optimizer);
      expect(optimizer.name).toBe(c.optimizer);
      const params = new Params();
      for (const [k, v] of Object.entries(c.initial)) params.set(k, tensor(v.data, v.shape));
      for (let step = 0; step < 3; step++) {
        const grads = new Map(Object.entries(c.grads[step]).map(([k, v]) => [k, tensor(v.data, v.shape)]));
        optimizer.step(params, grads, lr as number);
        for (const [k, v] of Object.entries(c.after[step])) {
          expect(maxRelError(params.get(k).dataSync(), v.data), `${k} after step ${step + 1}`).toBeLessThan(1e-6);
        }
      }
      // The state round-trips: a fresh optimizer with the saved state takes the same 4th step.
      const state = optimizer.getState();
      const twin = createTrainingContainer({ optimizer: c.optimizer, optimizerOptions: options, lr: lr as number }).get(
        TOKENS.Optimizer,
      );
      twin.setState(state, params.get('w').backend);
      const p1 = new Params();
      const p2 = new Params();
      for (const k of ['w', 'b']) {
        p1.set(k, params.get(k));
        p2.set(k, params.get(k));
      }
      const g = new Map(Object.entries(c.grads[0]).map(([k, v]) => [k, tensor(v.data, v.shape)]));
      optimizer.step(p1, g, lr as number);
      twin.step(p2, g, lr as number);
      for (const k of ['w', 'b']) expect(p1.get(k).toArray()).toEqual(p2.get(k).toArray());
    });
  });

  test('every built-in optimizer is covered by a fixture', () => {
    expect(new Set(cases.map((c) => c.optimizer))).toEqual(new Set(['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad']));
  });

  test('bad options and unknown names are one-line ConfigErrors naming the plugin, the option and what it expects', () => {
    const optimizer =
      (name: string, optimizerOptions = {}) =>
      () =>
        createTrainingContainer({ optimizer: name, optimizerOptions }).get(TOKENS.Optimizer);
    expect(optimizer('adam', { betas: [0.9, 1.5] })).toThrow(
      new ConfigError('optimizer "adam": option "betas" must be 2 numbers in [0, 1), got [0.9,1.5]'),
    );
    expect(optimizer('sgd', { momentum: Number.NaN })).toThrow(
      new ConfigError('optimizer "sgd": option "momentum" must be a number >= 0, got NaN'),
    );
    expect(optimizer('sgd', { nesterov: true })).toThrow(
      new ConfigError('optimizer "sgd": nesterov needs momentum > 0 and dampening 0'),
    );
    expect(optimizer('adamw', { weight_decay: 0.1 })).toThrow(
      new ConfigError('optimizer "adamw": unknown option "weight_decay"; options are camelCase: write "weightDecay"'),
    );
    expect(optimizer('adam', { momentum: 0.9 })).toThrow(
      new ConfigError('optimizer "adam": unknown option "momentum"; its options: betas, eps, weightDecay, amsgrad'),
    );
    expect(optimizer('rmsprop', { centered: 1 })).toThrow(
      new ConfigError('optimizer "rmsprop": option "centered" must be true or false, got 1'),
    );
    expect(optimizer('adamax')).toThrow(
      new ConfigError(
        'unknown optimizer "adamax": expected one of adam, adamw, sgd, rmsprop, adagrad (or bind a PluginSpec to TOKENS.Plugin)',
      ),
    );
  });

  test("AdamW defaults to PyTorch's weight decay 0.01, Adam to 0", () => {
    const wd = (name: string) =>
      (createTrainingContainer({ optimizer: name }).get(TOKENS.Optimizer) as unknown as { weightDecay: number })
        .weightDecay;
    expect([wd('adamw'), wd('adam')]).toEqual([0.01, 0]);
  });
});
