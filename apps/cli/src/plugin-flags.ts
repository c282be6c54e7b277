// The command-line face of the plugin registry: --optimizer, --clip and --schedule choose a plugin
// by name (`NAME` or `NAME:VALUE`, the value setting the plugin's shorthand option, as in
// `--clip global-norm:1`), and every plugin option is a kebab-case flag (`--weight-decay 0.1`,
// `--betas 0.9,0.95`, `--amsgrad`). Flags, their parsing and the help text are all derived from
// the registry, so a plugin declared there appears here with nothing else to write.
import {
  DEFAULT_PLUGINS,
  KIND_NOUN,
  type OptionSpec,
  PLUGIN_KINDS,
  type PluginChoice,
  type PluginKind,
  type PluginRegistry,
  type PluginSpec,
  builtinPlugins,
  expectedText,
  isValidOption,
  parseOptions,
} from '@ganglion/core';
import { type FlagSpec, UsageError } from './args.js';

/** The flag that chooses each kind of plugin. */
const KIND_FLAG: Readonly<Record<PluginKind, string>> = {
  optimizer: 'optimizer',
  clipping: 'clip',
  schedule: 'schedule',
};
const CHOICE_KEYS = {
  optimizer: ['optimizer', 'optimizerOptions'],
  clipping: ['clipping', 'clippingOptions'],
  schedule: ['schedule', 'scheduleOptions'],
} as const;

/** `weightDecay` → `weight-decay`. */
const flagName = (option: string) => option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Every option flag: its kind and option name; one option name may be shared by plugins of one kind. */
function optionFlags(registry: PluginRegistry): Map<string, { kind: PluginKind; option: string; boolean: boolean }> {
  const flags = new Map<string, { kind: PluginKind; option: string; boolean: boolean }>();
  for (const kind of PLUGIN_KINDS) {
    for (const spec of registry.list(kind)) {
      for (const [option, o] of Object.entries(spec.options)) {
        const flag = flagName(option);
        const seen = flags.get(flag);
        if (seen && seen.kind !== kind)
          throw new Error(
            `flag --${flag} would set both ${KIND_NOUN[seen.kind]} option "${seen.option}" and ${KIND_NOUN[kind]} option "${option}"`,
          );
        if (seen && seen.boolean !== (o.type === 'boolean'))
          throw new Error(
            `flag --${flag}: option "${option}" is a switch for some ${KIND_NOUN[kind]}s and takes a value for others`,
          );
        flags.set(flag, { kind, option, boolean: o.type === 'boolean' });
      }
    }
  }
  return flags;
}

/** The flags --optimizer/--clip/--schedule and every plugin option, for node's parseArgs. */
export function pluginFlagSpec(registry: PluginRegistry = builtinPlugins): FlagSpec {
  const spec: FlagSpec = {};
  for (const kind of PLUGIN_KINDS) spec[KIND_FLAG[kind]] = { type: 'string' };
  for (const [flag, f] of optionFlags(registry)) spec[flag] = { type: f.boolean ? 'boolean' : 'string' };
  return spec;
}

/** The parsed values of the plugin flags only (what TrainSettings keeps). */
export type PluginFlagValues = Readonly<Record<string, string | boolean | undefined>>;

export function pluginFlagValues(
  values: Readonly<Record<string, string | boolean | undefined>>,
  registry: PluginRegistry = builtinPlugins,
): PluginFlagValues {
  return Object.fromEntries(
    Object.keys(pluginFlagSpec(registry)).flatMap((k) => (values[k] === undefined ? [] : [[k, values[k]]])),
  );
}

function fromText(o: OptionSpec, text: string): unknown {
  if (o.type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  const number = (s: string) => (s.trim() === '' ? Number.NaN : Number(s));
  return o.type === 'numbers' ? text.split(',').map(number) : number(text);
}

const valueHint = (o: OptionSpec) =>
  o.type === 'numbers' ? Array.from({ length: o.length }, (_, i) => `X${i + 1}`).join(',') : 'X';

/**
 * The plugin choice the flags make, over `defaults` (a preset's `{ optimizer: 'adam', clipping:
 * 'global-norm:1' }`, each `NAME` or `NAME:VALUE`). Every problem is a one-line UsageError naming
 * the flag, the plugin, the option and what it expects.
 *
 *   pluginChoice({ optimizer: 'adamw', 'weight-decay': '0.1' }, { clipping: 'global-norm:1' })
 *   // { optimizer: 'adamw', optimizerOptions: { weightDecay: 0.1 }, clipping: 'global-norm', clippingOptions: { maxNorm: 1 }, ... }
 */
export function pluginChoice(
  values: PluginFlagValues,
  defaults: Partial<Record<PluginKind, string>> = {},
  registry: PluginRegistry = builtinPlugins,
): PluginChoice {
  const flags = optionFlags(registry);
  const choice: Record<string, unknown> = {};
  for (const kind of PLUGIN_KINDS) {
    const kindFlag = KIND_FLAG[kind];
    const given = values[kindFlag];
    const text = typeof given === 'string' ? given : (defaults[kind] ?? DEFAULT_PLUGINS[kind]);
    const source = typeof given === 'string' ? `--${kindFlag}` : `the default --${kindFlag} ${text}`;
    const colon = text.indexOf(':');
    const name = colon < 0 ? text : text.slice(0, colon);
    const spec = registry.find(kind, name);
    if (!spec)
      throw new UsageError(
        `${source}: expected one of ${registry.names(kind).join(', ')}, got ${JSON.stringify(name)}`,
      );
    const label = `${KIND_NOUN[kind]} "${name}"`;
    const optionFlagsOf = () =>
      Object.keys(spec.options)
        .map((k) => `--${flagName(k)}`)
        .join(', ') || 'none';
    const options: Record<string, unknown> = {};
    const setFrom = (where: string, option: string, raw: string | boolean) => {
      const o = spec.options[option];
      const v = typeof raw === 'boolean' ? raw : fromText(o, raw);
      if (!isValidOption(o, v))
        throw new UsageError(
          `${where}: ${label} option ${option} expects ${expectedText(o)}, got ${JSON.stringify(raw)}`,
        );
      options[option] = v;
    };
    if (colon >= 0) {
      if (!spec.shorthand)
        throw new UsageError(
          `${source}: ${label} takes no NAME:VALUE value; write --${kindFlag} ${name}${Object.keys(spec.options).length ? ` with its option flags (${optionFlagsOf()})` : ''}`,
        );
      setFrom(`${source} ${text}`, spec.shorthand, text.slice(colon + 1));
    }
    for (const [flag, f] of flags) {
      const raw = values[flag];
      if (f.kind !== kind || raw === undefined) continue;
      if (!Object.hasOwn(spec.options, f.option))
        throw new UsageError(`--${flag}: ${label} has no option ${f.option} (its option flags: ${optionFlagsOf()})`);
      if (colon >= 0 && f.option === spec.shorthand && typeof given === 'string')
        throw new UsageError(`--${flag}: ${f.option} is already set by --${kindFlag} ${text}; give it once`);
      setFrom(`--${flag}`, f.option, raw);
    }
    for (const [option, o] of Object.entries(spec.options)) {
      if (o.default !== undefined || option in options) continue;
      const shorthand = spec.shorthand === option ? `--${kindFlag} ${name}:${valueHint(o)} or ` : '';
      throw new UsageError(
        `--${kindFlag} ${name}: ${label} needs ${option}, ${expectedText(o)} (${shorthand}--${flagName(option)} ${valueHint(o)})`,
      );
    }
    try {
      parseOptions(spec as PluginSpec, options);
    } catch (e) {
      throw new UsageError(`--${kindFlag} ${name}: ${(e as Error).message}`);
    }
    const [nameKey, optionsKey] = CHOICE_KEYS[kind];
    choice[nameKey] = name;
    choice[optionsKey] = options;
  }
  return choice as PluginChoice;
}

function optionLine(option: string, o: OptionSpec): string {
  const flag = o.type === 'boolean' ? `--${flagName(option)}` : `--${flagName(option)} ${valueHint(o)}`;
  const dflt =
    o.type === 'boolean'
      ? ''
      : o.default === undefined
        ? ', required'
        : `, default ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)}`;
  const what = o.type === 'boolean' ? `a switch, default ${String(o.default)}` : `${expectedText(o)}${dflt}`;
  return `      ${flag.padEnd(24)} ${o.description} (${what})`;
}

const HEADINGS: Readonly<Record<PluginKind, string>> = {
  optimizer: 'Optimizers',
  clipping: 'Gradient clipping',
  schedule: 'Learning-rate schedules',
};

/** Help text for every registered plugin and its option flags. */
export function pluginHelp(registry: PluginRegistry = builtinPlugins): string {
  const lines: string[] = [];
  for (const kind of PLUGIN_KINDS) {
    const shorthand = registry.list(kind).some((s) => s.shorthand) ? ' or NAME:VALUE' : '';
    lines.push(`${HEADINGS[kind]} (--${KIND_FLAG[kind]} NAME${shorthand}):`);
    for (const spec of registry.list(kind)) {
      const short = spec.shorthand
        ? ` (--${KIND_FLAG[kind]} ${spec.name}:${valueHint(spec.options[spec.shorthand])} sets ${spec.shorthand})`
        : '';
      lines.push(`  ${spec.name.padEnd(12)} ${spec.description}${short}`);
      for (const [option, o] of Object.entries(spec.options)) lines.push(optionLine(option, o));
    }
  }
  lines.push(
    "Option flags are the options in kebab-case; an optimizer option is PyTorch's argument in camelCase (weight_decay: weightDecay in code, --weight-decay here).",
  );
  return lines.join('\n');
}
