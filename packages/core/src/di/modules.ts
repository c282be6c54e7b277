// Core's ContainerModules and the built-in plugins. `pluginsModule` binds every built-in
// optimizer, clipping policy and LR schedule declaration to TOKENS.Plugin; `bindActivePlugins`
// reads all bound declarations (the built-ins and a user's own), checks the chosen plugins'
// options against their schemas and binds their classes. `createTrainingContainer`
// (training/create-trainer.ts) is the one function that puts these together.
import { type Container, ContainerModule, type ServiceIdentifier } from 'inversify';
import { clipByGlobalNormPlugin } from '../training/clipping/clip-by-global-norm.js';
import { clipByNormPlugin } from '../training/clipping/clip-by-norm.js';
import { clipByValuePlugin } from '../training/clipping/clip-by-value.js';
import { noClippingPlugin } from '../training/clipping/no-clipping.js';
import { adagradPlugin } from '../training/optimizers/adagrad.js';
import { adamPlugin } from '../training/optimizers/adam.js';
import { adamwPlugin } from '../training/optimizers/adamw.js';
import { rmspropPlugin } from '../training/optimizers/rmsprop.js';
import { sgdPlugin } from '../training/optimizers/sgd.js';
import { constantSchedulePlugin } from '../training/schedules/constant.js';
import { cosineSchedulePlugin } from '../training/schedules/cosine.js';
import { stepDecaySchedulePlugin } from '../training/schedules/step-decay.js';
import { Trainer } from '../training/trainer.js';
import { ConfigError } from '../errors.js';
import {
  type AnyPluginSpec,
  PLUGIN_KINDS,
  type PluginKind,
  PluginRegistry,
  parseOptions,
  pluginLabel,
} from './plugin-registry.js';
import { type PluginOptions, TOKENS } from './tokens.js';

/** Every built-in plugin, in the order help text lists them. */
export const BUILTIN_PLUGINS: readonly AnyPluginSpec[] = [
  adamPlugin,
  adamwPlugin,
  sgdPlugin,
  rmspropPlugin,
  adagradPlugin,
  noClippingPlugin,
  clipByValuePlugin,
  clipByNormPlugin,
  clipByGlobalNormPlugin,
  constantSchedulePlugin,
  stepDecaySchedulePlugin,
  cosineSchedulePlugin,
];

/** The built-in plugins as a registry (what the CLI derives its flags and help from). */
export const builtinPlugins = new PluginRegistry(BUILTIN_PLUGINS);

export const pluginsModule = new ContainerModule(({ bind }) => {
  for (const spec of BUILTIN_PLUGINS) bind(TOKENS.Plugin).toConstantValue(spec);
});

export const trainingModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.Trainer).to(Trainer);
});

/** The active plugin of each kind by name, with its options (camelCase, checked against its schema). */
export interface PluginChoice {
  /** Default adam. */
  readonly optimizer?: string;
  readonly optimizerOptions?: PluginOptions;
  /** Default none. */
  readonly clipping?: string;
  readonly clippingOptions?: PluginOptions;
  /** Default constant. */
  readonly schedule?: string;
  readonly scheduleOptions?: PluginOptions;
}

export const DEFAULT_PLUGINS: Readonly<Record<PluginKind, string>> = {
  optimizer: 'adam',
  clipping: 'none',
  schedule: 'constant',
};

const SLOTS = {
  optimizer: {
    active: TOKENS.Optimizer,
    options: TOKENS.OptimizerOptions,
    name: 'optimizer',
    given: 'optimizerOptions',
  },
  clipping: {
    active: TOKENS.ClippingPolicy,
    options: TOKENS.ClippingOptions,
    name: 'clipping',
    given: 'clippingOptions',
  },
  schedule: { active: TOKENS.LrSchedule, options: TOKENS.ScheduleOptions, name: 'schedule', given: 'scheduleOptions' },
} as const satisfies Record<
  PluginKind,
  {
    active: ServiceIdentifier<unknown>;
    options: ServiceIdentifier<PluginOptions>;
    name: keyof PluginChoice;
    given: keyof PluginChoice;
  }
>;

/** A registry of every plugin declaration bound to TOKENS.Plugin in `container`. */
export function pluginRegistry(container: Container): PluginRegistry {
  return new PluginRegistry(container.getAll(TOKENS.Plugin, { optional: true }));
}

/**
 * Bind the active optimizer, clipping policy and schedule by plugin name, with their options
 * checked (a ConfigError names the plugin, the option and what it expects). A kind whose active
 * token the container already binds is left alone (a user's own class wins; its options are bound
 * as given).
 */
export function bindActivePlugins(container: Container, choice: PluginChoice): void {
  const registry = pluginRegistry(container);
  for (const kind of PLUGIN_KINDS) {
    const slot = SLOTS[kind];
    const given = choice[slot.given] as PluginOptions | undefined;
    if (container.isBound(slot.active)) {
      if (!container.isBound(slot.options)) container.bind(slot.options).toConstantValue(given ?? {});
      continue;
    }
    const spec = registry.get(kind, (choice[slot.name] as string | undefined) ?? DEFAULT_PLUGINS[kind]);
    if (container.isBound(slot.options))
      throw new ConfigError(
        `${pluginLabel(spec)}: its options token is already bound; pass the options in the plugin choice instead`,
      );
    container.bind(slot.options).toConstantValue(parseOptions(spec, given));
    container
      .bind(slot.active as ServiceIdentifier<unknown>)
      .to(spec.class)
      .inSingletonScope();
  }
}
