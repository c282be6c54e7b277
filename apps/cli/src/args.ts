// Flag parsing helpers: every bad value is a UsageError naming the flag, what it expects and what
// came, and the CLI exits with status 2 for it.
import { parseArgs } from 'node:util';
import { GanglionError } from '@ganglion/core';

export class UsageError extends GanglionError {}

/**
 * `optionalValue`: a string flag that may stand alone (`--log-grad-norms` means `--log-grad-norms=1`).
 * `multiple`: a string flag that may be given more than once (`--corpus a --corpus b`); `parseLists`
 * returns its values.
 */
export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean; optionalValue?: string; multiple?: boolean }
>;

export function parse(
  argv: readonly string[],
  options: FlagSpec,
  command: string,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const { values, positionals } = parseLists(argv, options, command);
  return { values, positionals };
}

/** `parse`, with the values of `multiple` flags in `lists` (in the order given; empty when absent). */
export function parseLists(
  argv: readonly string[],
  options: FlagSpec,
  command: string,
): {
  values: Record<string, string | boolean | undefined>;
  lists: Record<string, string[]>;
  positionals: string[];
} {
  try {
    const { values, positionals } = parseArgs({
      args: attachDashValues(argv, options),
      options,
      allowPositionals: true,
      strict: true,
    });
    const single: Record<string, string | boolean | undefined> = {};
    const lists: Record<string, string[]> = {};
    for (const [name, o] of Object.entries(options)) if (o.multiple) lists[name] = [];
    for (const [name, v] of Object.entries(values)) {
      if (Array.isArray(v)) lists[name] = v.map(String);
      else single[name] = v;
    }
    return { values: single, lists, positionals };
  } catch (e) {
    // node's messages run over several sentences and lines; the first says what went wrong.
    throw new UsageError(
      `${(e as Error).message.split(/\.\s/)[0].replace(/\.$/, '')} (see ganglion ${command} --help)`,
    );
  }
}

/**
 * `--steps -5` as `--steps=-5`: node's parseArgs reads a value that starts with a dash as another
 * option, so a negative number would be reported as a missing value instead of a bad one. A string
 * flag takes the next argument as its value unless that argument is itself one of the flags.
 */
function attachDashValues(argv: readonly string[], options: FlagSpec): string[] {
  const flagNames = new Set(
    Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]),
  );
  const isFlag = (a: string) => a === '--' || flagNames.has(a.split('=')[0]);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = a.startsWith('--')
      ? a.slice(2)
      : Object.keys(options).find((k) => options[k].short !== undefined && a === `-${options[k].short}`);
    const alone = options[name ?? '']?.optionalValue;
    if (alone !== undefined && a === `--${name}` && (next === undefined || isFlag(next))) {
      out.push(`--${name}=${alone}`);
    } else if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      next.startsWith('-') &&
      next !== '-' &&
      !isFlag(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

export function num(
  flag: string,
  raw: string | boolean | undefined,
  fallback: number,
  check: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const what = check.integer ? 'a whole number' : 'a number';
  const bounds = [
    check.min !== undefined ? `${check.exclusiveMin ? '>' : '>='} ${check.min}` : '',
    check.max !== undefined ? `<= ${check.max}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const outOfBounds =
    (check.min !== undefined && (check.exclusiveMin ? v <= check.min : v < check.min)) ||
    (check.max !== undefined && v > check.max);
  const bad =
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(v) ||
    (check.integer && !Number.isInteger(v)) ||
    outOfBounds;
  if (bad) throw new UsageError(`--${flag}: expected ${what}${bounds ? ` ${bounds}` : ''}, got ${JSON.stringify(raw)}`);
  // A whole number past 2^53 - 1 has already been rounded to another one by Number().
  if (check.integer && !Number.isSafeInteger(v))
    throw new UsageError(
      `--${flag}: ${String(raw).trim()} is beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1), the largest whole number held exactly`,
    );
  return v;
}

export function oneOf<T extends string>(
  flag: string,
  raw: string | boolean | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--${flag}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}
