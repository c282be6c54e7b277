// Flag parsing: a value that starts with a dash (`--steps -5`) reaches the flag's own check for every
// string flag of every command, flags are never swallowed as values, parse errors are one line, and
// whole numbers past 2^53 - 1 (which Number() silently rounds) are refused.
import { describe, expect, test } from 'vitest';
import { type FlagSpec, UsageError, num, parse } from './args.js';
import { EXPORT_FLAGS } from './commands/export.js';
import { GENERATE_FLAGS } from './commands/generate.js';
import { RUN_FLAGS } from './commands/run.js';
import { TRAIN_FLAGS } from './commands/train.js';

const COMMANDS: Record<string, FlagSpec> = {
  train: TRAIN_FLAGS,
  generate: GENERATE_FLAGS,
  run: RUN_FLAGS,
  export: EXPORT_FLAGS,
};

describe('parse', () => {
  for (const [command, spec] of Object.entries(COMMANDS)) {
    const strings = Object.keys(spec).filter((k) => spec[k].type === 'string');
    test(`${command}: every string flag takes "-5" after a space as its value`, () => {
      expect(strings.length).toBeGreaterThan(0);
      for (const flag of strings) expect(parse([`--${flag}`, '-5'], spec, command).values[flag]).toBe('-5');
    });
  }

  test('a flag after a string flag stays a flag; "--" ends the flags', () => {
    const spec: FlagSpec = {
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    };
    expect(() => parse(['--out', '--json'], spec, 'train')).toThrow(
      new UsageError("Option '--out' argument is ambiguous (see ganglion train --help)"),
    );
    expect(() => parse(['--out', '-h'], spec, 'train')).toThrow(UsageError);
    expect(parse(['--out', 'x', '--', '-5'], spec, 'train')).toEqual({ values: { out: 'x' }, positionals: ['-5'] });
  });

  test("node's multi-sentence messages become one line", () => {
    try {
      parse(['--out', '--json'], { out: { type: 'string' }, json: { type: 'boolean' } }, 'x');
      throw new Error('no error');
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
});

describe('num', () => {
  test('the range error for a negative value', () => {
    expect(() => num('steps', '-5', 1, { min: 1, integer: true })).toThrow(
      new UsageError('--steps: expected a whole number >= 1, got "-5"'),
    );
  });

  test('whole numbers stop at 2^53 - 1', () => {
    expect(num('seed', String(Number.MAX_SAFE_INTEGER), 0, { integer: true })).toBe(9007199254740991);
    expect(num('seed', '-9007199254740991', 0, { integer: true })).toBe(-9007199254740991);
    for (const raw of ['9007199254740992', '9007199254740993', '1e300']) {
      expect(() => num('seed', raw, 0, { integer: true })).toThrow(
        new UsageError(`--seed: ${raw} is beyond ±9007199254740991 (2^53 - 1), the largest whole number held exactly`),
      );
    }
    // A bound the value also breaks is the error a person can act on first.
    expect(() => num('opset', '1e300', 17, { min: 17, max: 26, integer: true })).toThrow(
      'expected a whole number >= 17 and <= 26',
    );
  });
});
