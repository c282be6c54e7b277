// The plugin registry's types: each optimizer, clipping policy and LR schedule declares itself
// once (kind, name, description, a typed option schema, its class), and everything else reads
// that declaration: `bindActivePlugins` validates options against it and binds the class, the CLI
// derives its choices, flags and help from it. Options are camelCase everywhere; an optimizer's
// option is the camelCase of PyTorch's argument (weight_decay → weightDecay).
import type { Newable } from 'inversify';
import { ConfigError } from '../errors.js';
import type { ClippingPolicy } from '../training/clipping/clipping-policy.js';
import type { Optimizer } from '../training/optimizer.js';
import type { LrSchedule } from '../training/schedules/lr-schedule.js';

/** What each kind of plugin is. */
export interface PluginTypes {
  optimizer: Optimizer;
  clipping: ClippingPolicy;
  schedule: LrSchedule;
}
export type PluginKind = keyof PluginTypes;
export const PLUGIN_KINDS: readonly PluginKind[] = ['optimizer', 'clipping', 'schedule'];

interface Bounds {
  readonly min?: number;
  readonly max?: number;
  /** `min` itself is not allowed. */
  readonly exclusiveMin?: boolean;
  /** `max` itself is not allowed. */
  readonly exclusiveMax?: boolean;
}
export interface NumberOption extends Bounds {
  readonly type: 'number';
  readonly description: string;
  /** Absent: the option is required. */
  readonly default?: number;
  readonly integer?: boolean;
}
export interface BooleanOption {
  readonly type: 'boolean';
  readonly description: string;
  readonly default: boolean;
}
/** A fixed-length list of numbers, each within the bounds (Adam's betas). */
export interface NumberListOption extends Bounds {
  readonly type: 'numbers';
  readonly description: string;
  readonly length: number;
  readonly default?: readonly number[];
}
export type OptionSpec = NumberOption | BooleanOption | NumberListOption;
export type OptionSchema = Readonly<Record<string, OptionSpec>>;
export type OptionValue = number | boolean | readonly number[];

type ValueOf<O extends OptionSpec> = O extends NumberOption
  ? number
  : O extends BooleanOption
    ? boolean
    : readonly number[];
/** The options a plugin's class receives: every option present, defaults filled in, checked. */
export type OptionsOf<S extends OptionSchema> = { readonly [K in keyof S]: ValueOf<S[K]> };

export interface PluginSpec<K extends PluginKind = PluginKind, S extends OptionSchema = OptionSchema> {
  readonly kind: K;
  readonly name: string;
  /** One line for help text. */
  readonly description: string;
  readonly options: S;
  /** The option the CLI's `NAME:V` form sets (`--clip global-norm:1` sets maxNorm). */
  readonly shorthand?: keyof S & string;
  /** A check across options; returns what is wrong, or undefined. */
  check?(options: OptionsOf<S>): string | undefined;
  /** Constructed by the container, with the checked options injected from the kind's options token. */
  readonly class: Newable<PluginTypes[K]>;
}
/** Any plugin, of any kind and schema. */
export type AnyPluginSpec = { [K in PluginKind]: PluginSpec<K, OptionSchema> }[PluginKind];

/** Declare a plugin; the identity, but it infers the schema so `check` sees typed options. */
export function definePlugin<K extends PluginKind, const S extends OptionSchema>(
  spec: PluginSpec<K, S>,
): PluginSpec<K, S> {
  return spec;
}

/** `optimizer "adam"`: how errors name a plugin. */
export function pluginLabel(spec: { readonly kind: PluginKind; readonly name: string }): string {
  return `${KIND_NOUN[spec.kind]} "${spec.name}"`;
}

function boundsText(b: Bounds): string {
  const { min, max } = b;
  if (min !== undefined && max !== undefined)
    return `in ${b.exclusiveMin ? '(' : '['}${min}, ${max}${b.exclusiveMax ? ')' : ']'}`;
  if (min !== undefined) return `${b.exclusiveMin ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${b.exclusiveMax ? '<' : '<='} ${max}`;
  return '';
}

/** What an option accepts, in words: `a number >= 0`, `2 numbers in [0, 1)`, `true or false`. */
export function expectedText(o: OptionSpec): string {
  if (o.type === 'boolean') return 'true or false';
  const bounds = boundsText(o);
  const what = o.type === 'numbers' ? `${o.length} numbers` : o.integer ? 'a whole number' : 'a number';
  return bounds ? `${what} ${bounds}` : what;
}

function inBounds(v: number, b: Bounds): boolean {
  if (!Number.isFinite(v)) return false;
  if (b.min !== undefined && (b.exclusiveMin ? v <= b.min : v < b.min)) return false;
  if (b.max !== undefined && (b.exclusiveMax ? v >= b.max : v > b.max)) return false;
  return true;
}

/** Whether `v` is a valid value of option `o`. */
export function isValidOption(o: OptionSpec, v: unknown): v is OptionValue {
  switch (o.type) {
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && inBounds(v, o) && (!o.integer || Number.isInteger(v));
    case 'numbers':
      return Array.isArray(v) && v.length === o.length && v.every((x) => typeof x === 'number' && inBounds(x, o));
  }
}

const camelCase = (s: string) => s.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());

function show(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
}

/**
 * Check `raw` against a plugin's schema and fill in defaults. Every problem is a one-line
 * ConfigError naming the plugin, the option and what it expects:
 *
 *   parseOptions(adamPlugin, { weight_decay: 0.1 })
 *   // ConfigError: optimizer "adam": unknown option "weight_decay"; options are camelCase: write "weightDecay"
 */
export function parseOptions<K extends PluginKind, S extends OptionSchema>(
  spec: PluginSpec<K, S>,
  raw: Readonly<Record<string, unknown>> = {},
): OptionsOf<S> {
  const label = pluginLabel(spec);
  const names = Object.keys(spec.options);
  for (const key of Object.keys(raw)) {
    if (raw[key] === undefined || Object.hasOwn(spec.options, key)) continue;
    const camel = camelCase(key);
    const hint = Object.hasOwn(spec.options, camel)
      ? `options are camelCase: write "${camel}"`
      : names.length
        ? `its options: ${names.join(', ')}`
        : 'it takes no options';
    throw new ConfigError(`${label}: unknown option "${key}"; ${hint}`);
  }
  const out: Record<string, OptionValue> = {};
  for (const [key, o] of Object.entries(spec.options)) {
    const v = raw[key] ?? o.default;
    if (v === undefined) throw new ConfigError(`${label}: option "${key}" is required: ${expectedText(o)}`);
    if (!isValidOption(o, v))
      throw new ConfigError(`${label}: option "${key}" must be ${expectedText(o)}, got ${show(v)}`);
    out[key] = v;
  }
  const options = out as OptionsOf<S>;
  const problem = spec.check?.(options);
  if (problem) throw new ConfigError(`${label}: ${problem}`);
  return options;
}

/** How errors name a kind: `unknown clipping policy "percentile"`. */
export const KIND_NOUN: Readonly<Record<PluginKind, string>> = {
  optimizer: 'optimizer',
  clipping: 'clipping policy',
  schedule: 'schedule',
};

/** Plugins by kind and name, in declaration order; a name declared twice for one kind is an error. */
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, AnyPluginSpec>>(PLUGIN_KINDS.map((k) => [k, new Map()]));

  constructor(specs: Iterable<AnyPluginSpec>) {
    for (const spec of specs) {
      const named = this.byKind.get(spec.kind);
      if (!named)
        throw new ConfigError(
          `plugin "${spec.name}": unknown kind "${String(spec.kind)}", expected one of ${PLUGIN_KINDS.join(', ')}`,
        );
      if (named.has(spec.name)) throw new ConfigError(`${pluginLabel(spec)} is declared twice`);
      if (spec.shorthand !== undefined && !Object.hasOwn(spec.options, spec.shorthand))
        throw new ConfigError(`${pluginLabel(spec)}: shorthand "${spec.shorthand}" is not one of its options`);
      named.set(spec.name, spec);
    }
  }

  list<K extends PluginKind>(kind: K): PluginSpec<K>[] {
    return [...this.byKind.get(kind)!.values()] as PluginSpec<K>[];
  }

  names(kind: PluginKind): string[] {
    return [...this.byKind.get(kind)!.keys()];
  }

  find<K extends PluginKind>(kind: K, name: string): PluginSpec<K> | undefined {
    return this.byKind.get(kind)!.get(name) as PluginSpec<K> | undefined;
  }

  /** The plugin, or a ConfigError naming the registered ones. */
  get<K extends PluginKind>(kind: K, name: string): PluginSpec<K> {
    const spec = this.find(kind, name);
    if (!spec)
      throw new ConfigError(
        `unknown ${KIND_NOUN[kind]} "${name}": expected one of ${this.names(kind).join(', ')} (or bind a PluginSpec to TOKENS.Plugin)`,
      );
    return spec;
  }
}
