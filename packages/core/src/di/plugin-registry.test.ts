// The plugin registry: option schemas are checked at their boundaries, defaults are PyTorch's,
// every built-in declaration matches the class it builds, and a user's own plugin is chosen by
// name like a built-in.
import { ContainerModule, type ServiceIdentifier, inject, injectable } from 'inversify';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../errors.js';
import { createTrainingContainer } from '../training/create-trainer.js';
import type { LrSchedule } from '../training/schedules/lr-schedule.js';
import { BUILTIN_PLUGINS, builtinPlugins } from './modules.js';
import { type OptionsOf, PluginRegistry, definePlugin, parseOptions } from './plugin-registry.js';
import { TOKENS } from './tokens.js';

const ACTIVE = { optimizer: TOKENS.Optimizer, clipping: TOKENS.ClippingPolicy, schedule: TOKENS.LrSchedule } as const;
const CHOICE_KEYS = {
  optimizer: ['optimizer', 'optimizerOptions'],
  clipping: ['clipping', 'clippingOptions'],
  schedule: ['schedule', 'scheduleOptions'],
} as const;

describe('built-in plugins', () => {
  test('each declaration builds its class, whose name is the declared name', () => {
    for (const spec of BUILTIN_PLUGINS) {
      const [nameKey, optionsKey] = CHOICE_KEYS[spec.kind];
      const options = spec.shorthand ? { [spec.shorthand]: 3 } : {};
      const plugin = createTrainingContainer({ [nameKey]: spec.name, [optionsKey]: options }).get(
        ACTIVE[spec.kind] as ServiceIdentifier<{ name: string }>,
      );
      expect(plugin).toBeInstanceOf(spec.class);
      expect(plugin.name).toBe(spec.name);
    }
  });

  test("defaults are PyTorch's (torch.optim 1.13 signatures, camelCased)", () => {
    const defaults = (name: string) => parseOptions(builtinPlugins.get('optimizer', name));
    expect(defaults('sgd')).toEqual({ momentum: 0, dampening: 0, weightDecay: 0, nesterov: false });
    expect(defaults('adam')).toEqual({ betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
    expect(defaults('adamw')).toEqual({ betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false });
    expect(defaults('rmsprop')).toEqual({ alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false });
    expect(defaults('adagrad')).toEqual({ lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 });
  });

  test('every option name is camelCase, and every default passes its own schema', () => {
    for (const spec of BUILTIN_PLUGINS) {
      for (const key of Object.keys(spec.options))
        expect(key, `${spec.kind} ${spec.name}`).toMatch(/^[a-z][a-zA-Z0-9]*$/);
      const required = Object.entries(spec.options)
        .filter(([, o]) => o.default === undefined)
        .map(([k]) => k);
      expect(() => parseOptions(spec, Object.fromEntries(required.map((k) => [k, 5])))).not.toThrow();
    }
  });
});

describe('parseOptions at the boundaries', () => {
  const spec = definePlugin({
    kind: 'schedule',
    name: 'probe',
    description: 'a schedule to test options with',
    options: {
      rate: { type: 'number', min: 0, exclusiveMin: true, max: 1, description: 'r' },
      count: { type: 'number', integer: true, min: 0, default: 2, description: 'c' },
      pair: { type: 'numbers', length: 2, min: 0, max: 1, exclusiveMax: true, default: [0.5, 0.5], description: 'p' },
      on: { type: 'boolean', default: false, description: 'o' },
    },
    class: class implements LrSchedule {
      readonly name = 'probe';
      lrAt = () => 0;
    },
  });
  const msg = (raw: Record<string, unknown>) => {
    try {
      parseOptions(spec, raw);
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
  };

  test('accepted values, defaults filled in', () => {
    expect(parseOptions(spec, { rate: 1 })).toEqual({ rate: 1, count: 2, pair: [0.5, 0.5], on: false });
    expect(parseOptions(spec, { rate: 1e-9, count: 0, pair: [0, 0.999], on: true })).toEqual({
      rate: 1e-9,
      count: 0,
      pair: [0, 0.999],
      on: true,
    });
  });

  test('rejected values name the plugin, the option and the expected range', () => {
    expect(msg({})).toBe('schedule "probe": option "rate" is required: a number in (0, 1]');
    expect(msg({ rate: 0 })).toBe('schedule "probe": option "rate" must be a number in (0, 1], got 0');
    expect(msg({ rate: 1.0001 })).toBe('schedule "probe": option "rate" must be a number in (0, 1], got 1.0001');
    expect(msg({ rate: Infinity })).toBe('schedule "probe": option "rate" must be a number in (0, 1], got Infinity');
    expect(msg({ rate: '0.5' })).toBe('schedule "probe": option "rate" must be a number in (0, 1], got "0.5"');
    expect(msg({ rate: 1, count: 1.5 })).toBe('schedule "probe": option "count" must be a whole number >= 0, got 1.5');
    expect(msg({ rate: 1, pair: [0.5, 1] })).toBe(
      'schedule "probe": option "pair" must be 2 numbers in [0, 1), got [0.5,1]',
    );
    expect(msg({ rate: 1, pair: [0.5] })).toBe(
      'schedule "probe": option "pair" must be 2 numbers in [0, 1), got [0.5]',
    );
    expect(msg({ rate: 1, on: 'yes' })).toBe('schedule "probe": option "on" must be true or false, got "yes"');
    expect(msg({ rate: 1, Rate: 1 })).toBe(
      'schedule "probe": unknown option "Rate"; its options: rate, count, pair, on',
    );
  });

  test('a name declared twice, or a shorthand that is not an option, is refused', () => {
    expect(() => new PluginRegistry([spec, spec])).toThrow(new ConfigError('schedule "probe" is declared twice'));
    expect(() => new PluginRegistry([{ ...spec, shorthand: 'nope' as 'rate' }])).toThrow(
      new ConfigError('schedule "probe": shorthand "nope" is not one of its options'),
    );
  });
});

describe('a user plugin', () => {
  const options = {
    every: { type: 'number', integer: true, min: 1, description: 'halve the rate every N updates' },
  } as const;
  @injectable()
  class Halving implements LrSchedule {
    readonly name = 'halving';
    constructor(@inject(TOKENS.ScheduleOptions) readonly opts: OptionsOf<typeof options>) {}
    lrAt(step: number, lr: number) {
      return lr / 2 ** Math.floor((step - 1) / this.opts.every);
    }
  }
  const halving = definePlugin({
    kind: 'schedule',
    name: 'halving',
    description: 'halve every N updates',
    options,
    class: Halving,
  });
  const module = new ContainerModule(({ bind }) => {
    bind(TOKENS.Plugin).toConstantValue(halving);
  });

  test("is chosen by name, gets its checked options, and its errors read like a built-in's", () => {
    const s = createTrainingContainer({ schedule: 'halving', scheduleOptions: { every: 2 }, modules: [module] }).get(
      TOKENS.LrSchedule,
    );
    expect([1, 2, 3, 4, 5].map((t) => s.lrAt(t, 8))).toEqual([8, 8, 4, 4, 2]);
    expect(() => createTrainingContainer({ schedule: 'halving', modules: [module] })).toThrow(
      new ConfigError('schedule "halving": option "every" is required: a whole number >= 1'),
    );
    expect(() => createTrainingContainer({ schedule: 'halving' })).toThrow(
      /unknown schedule "halving": expected one of constant, step, cosine/,
    );
  });
});
