// Plugin flags through the built binary: the help lists every registered plugin and its option
// flags (computed from the registry), option flags reach the plugins (the learning rates a step
// schedule gives, by hand), and bad plugin options exit 2 with one line.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PLUGIN_KINDS, builtinPlugins } from '@ganglion/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOneLineError, folderWithCorpus, runCli } from './run-cli.js';

let dir: string;
const TINY = [
  '--preset',
  'char-lstm-small',
  '--backend',
  'reference',
  '--batch',
  '4',
  '--seq-len',
  '12',
  '--steps',
  '3',
  '--seed',
  '1',
];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-plugin-flags-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ganglion train plugin flags', () => {
  test('--help lists every registered plugin, its description and each option flag', async () => {
    const r = await runCli(['train', '--help'], dir);
    expect(r.code).toBe(0);
    const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
    for (const kind of PLUGIN_KINDS) {
      for (const spec of builtinPlugins.list(kind)) {
        expect(r.stdout).toContain(`  ${spec.name.padEnd(12)} ${spec.description}`);
        for (const option of Object.keys(spec.options))
          expect(r.stdout, `${spec.name} ${option}`).toMatch(new RegExp(`^ {6}--${kebab(option)}\\b`, 'm'));
      }
    }
  });

  test('options reach the plugins: sgd with momentum, clip by value, step decay halving every 2 updates', async () => {
    const args = [
      'train',
      '--corpus',
      'corpus.txt',
      ...TINY,
      '--lr',
      '0.1',
      '--optimizer',
      'sgd',
      '--momentum',
      '0.9',
      '--clip',
      'value:0.5',
      '--schedule',
      'step:2',
      '--gamma',
      '0.5',
      '--out',
      'sgd',
      '--json',
    ];
    const r = await runCli(args, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lrs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === 'batch')
      .map((e) => e.lr);
    expect(lrs).toEqual([0.1, 0.1, 0.05]); // 0.1 · 0.5^floor((t − 1) / 2)
    await rm(join(dir, 'sgd'), { recursive: true, force: true });
  });

  test.each([
    [
      'an option the optimizer lacks',
      ['--optimizer', 'adam', '--momentum', '0.9'],
      /^ganglion train: --momentum: optimizer "adam" has no option momentum \(its option flags: --betas, --eps, --weight-decay, --amsgrad\)$/,
    ],
    [
      'a negative weight decay',
      ['--optimizer', 'adamw', '--weight-decay', '-1'],
      /--weight-decay: optimizer "adamw" option weightDecay expects a number >= 0, got "-1"$/,
    ],
    [
      'a clip without its value',
      ['--clip', 'norm'],
      /--clip norm: clipping policy "norm" needs maxNorm, a number > 0 \(--clip norm:X or --max-norm X\)$/,
    ],
    [
      'a cosine schedule without its length',
      ['--schedule', 'cosine'],
      /--schedule cosine: schedule "cosine" needs totalSteps, a whole number >= 1 \(--schedule cosine:X or --total-steps X\)$/,
    ],
  ])('%s: exit 2, one line', async (_, flags, message) => {
    expectOneLineError(
      await runCli(['train', '--corpus', 'corpus.txt', ...TINY, ...flags, '--out', 'bad'], dir),
      2,
      message,
    );
  });
});
