// The CLI's plugin flags: every spelling the CLI has accepted still works, option flags reach the
// plugin as typed camelCase options, and each bad value is one UsageError line naming the flag,
// the plugin, the option and what it expects.
import { PLUGIN_KINDS, builtinPlugins } from '@ganglion/core';
import { describe, expect, test } from 'vitest';
import { UsageError, parse } from './args.js';
import { TRAIN_FLAGS } from './commands/train.js';
import { pluginChoice, pluginFlagValues, pluginHelp } from './plugin-flags.js';

const PRESET = { optimizer: 'adam', clipping: 'global-norm:1' };
const choose = (...argv: string[]) => pluginChoice(pluginFlagValues(parse(argv, TRAIN_FLAGS, 'train').values), PRESET);
const error = (...argv: string[]) => {
  try {
    choose(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('plugin flags', () => {
  test('the preset fills in what is not given; the schedule defaults to constant', () => {
    expect(choose()).toEqual({
      optimizer: 'adam',
      optimizerOptions: {},
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 1 },
      schedule: 'constant',
      scheduleOptions: {},
    });
  });

  test('every earlier --clip and --optimizer spelling still works', () => {
    expect(choose('--clip', 'none')).toMatchObject({ clipping: 'none', clippingOptions: {} });
    expect(choose('--clip', 'value:0.5')).toMatchObject({ clipping: 'value', clippingOptions: { clipValue: 0.5 } });
    expect(choose('--clip', 'norm:2')).toMatchObject({ clipping: 'norm', clippingOptions: { maxNorm: 2 } });
    expect(choose('--clip', 'global-norm:0.25')).toMatchObject({
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 0.25 },
    });
    for (const name of ['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'])
      expect(choose('--optimizer', name).optimizer).toBe(name);
  });

  test('option flags become camelCase options of the chosen plugin', () => {
    expect(choose('--optimizer', 'adamw', '--weight-decay', '0.1', '--betas', '0.9,0.95', '--amsgrad')).toMatchObject({
      optimizer: 'adamw',
      optimizerOptions: { weightDecay: 0.1, betas: [0.9, 0.95], amsgrad: true },
    });
    expect(choose('--optimizer', 'sgd', '--momentum', '0.9', '--nesterov')).toMatchObject({
      optimizerOptions: { momentum: 0.9, nesterov: true },
    });
    expect(choose('--clip', 'norm', '--max-norm', '3')).toMatchObject({ clippingOptions: { maxNorm: 3 } });
    expect(choose('--max-norm', '3')).toMatchObject({ clipping: 'global-norm', clippingOptions: { maxNorm: 3 } }); // over the preset's global-norm:1
    expect(choose('--schedule', 'cosine:100', '--warmup-steps', '10', '--min-lr', '0')).toMatchObject({
      schedule: 'cosine',
      scheduleOptions: { totalSteps: 100, warmupSteps: 10, minLr: 0 },
    });
    expect(choose('--schedule', 'step', '--step-size', '5', '--gamma', '0.5')).toMatchObject({
      scheduleOptions: { stepSize: 5, gamma: 0.5 },
    });
  });

  test('bad choices and options are one line naming the flag, the plugin, the option and what it expects', () => {
    expect(error('--optimizer', 'adamax')).toBe(
      '--optimizer: expected one of adam, adamw, sgd, rmsprop, adagrad, got "adamax"',
    );
    expect(error('--clip', 'global-norm:-1')).toBe(
      '--clip global-norm:-1: clipping policy "global-norm" option maxNorm expects a number > 0, got "-1"',
    );
    expect(error('--clip', 'norm')).toBe(
      '--clip norm: clipping policy "norm" needs maxNorm, a number > 0 (--clip norm:X or --max-norm X)',
    );
    expect(error('--clip', 'none:1')).toBe(
      '--clip: clipping policy "none" takes no NAME:VALUE value; write --clip none',
    );
    expect(error('--clip', 'value:1', '--clip-value', '2')).toBe(
      '--clip-value: clipValue is already set by --clip value:1; give it once',
    );
    expect(error('--momentum', '0.9')).toBe(
      '--momentum: optimizer "adam" has no option momentum (its option flags: --betas, --eps, --weight-decay, --amsgrad)',
    );
    expect(error('--optimizer', 'adam:0.1')).toBe(
      '--optimizer: optimizer "adam" takes no NAME:VALUE value; write --optimizer adam with its option flags (--betas, --eps, --weight-decay, --amsgrad)',
    );
    expect(error('--weight-decay', '-1')).toBe(
      '--weight-decay: optimizer "adam" option weightDecay expects a number >= 0, got "-1"',
    );
    expect(error('--betas', '0.9')).toBe(
      '--betas: optimizer "adam" option betas expects 2 numbers in [0, 1), got "0.9"',
    );
    expect(error('--schedule', 'step:2.5')).toBe(
      '--schedule step:2.5: schedule "step" option stepSize expects a whole number >= 1, got "2.5"',
    );
    expect(error('--optimizer', 'sgd', '--nesterov')).toBe(
      '--optimizer sgd: optimizer "sgd": nesterov needs momentum > 0 and dampening 0',
    );
    expect(error('--schedule', 'cosine:10', '--warmup-steps', '10')).toBe(
      '--schedule cosine: schedule "cosine": option "warmupSteps" must be < totalSteps (10), got 10',
    );
  });

  test('the help lists every registered plugin and each of its options as a flag', () => {
    const lines = pluginHelp().split('\n');
    const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
    let listed = 0;
    for (const kind of PLUGIN_KINDS) {
      for (const spec of builtinPlugins.list(kind)) {
        // The plugin's line, then its option lines (indented further) up to the next plugin or heading.
        const start = lines.findIndex((l) => l.startsWith(`  ${spec.name} `) && l.includes(spec.description));
        expect(start, spec.name).toBeGreaterThan(0);
        const end = lines.findIndex((l, i) => i > start && !l.startsWith('      '));
        const block = lines.slice(start + 1, end).join('\n');
        for (const option of Object.keys(spec.options))
          expect(block, `${spec.name} ${option}`).toMatch(new RegExp(`--${kebab(option)}\\b`));
        expect(end - start - 1, spec.name).toBe(Object.keys(spec.options).length);
        listed++;
      }
    }
    expect(listed).toBe(12);
    expect(lines.filter((l) => /^ {2}\S/.test(l))).toHaveLength(listed);
  });
});
