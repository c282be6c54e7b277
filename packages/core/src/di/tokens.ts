// Every DI token, in one file, as typed symbols. Plugins (optimizers, clipping policies, LR
// schedules) are declared as PluginSpecs bound to TOKENS.Plugin; layers and backends are classes
// bound in inversify ContainerModules. A user adds one by binding it. Only composition roots
// (the CLI, createTrainingContainer, tests) build containers.
import type { ServiceIdentifier } from 'inversify';
import type { Backend } from '../backend.js';
import type { LayerClass } from '../graph/layer.js';
import type { LayerResolver } from '../graph/graph.js';
import type { ClippingPolicy } from '../training/clipping/clipping-policy.js';
import type { AnyPluginSpec, OptionValue } from './plugin-registry.js';
import type { LrSchedule } from '../training/schedules/lr-schedule.js';
import type { Optimizer } from '../training/optimizer.js';
import type { Trainer } from '../training/trainer.js';
import type { TokenizerPlugin } from '../data/tokenizer.js';

/**
 * A plugin's options by camelCase name (`{ weightDecay: 0.1, betas: [0.9, 0.95] }`). What a
 * plugin's class is injected with has been checked against its schema, defaults filled in.
 */
export type PluginOptions = Readonly<Record<string, OptionValue | undefined>>;
export type OptimizerOptions = PluginOptions;
export type ClippingOptions = PluginOptions;
export type ScheduleOptions = PluginOptions;

export interface TrainerOptions {
  /** Base learning rate, scaled by the schedule. */
  readonly lr: number;
}

export const TOKENS = {
  /** The compute backend new tensors and parameters live on. */
  Backend: Symbol.for('ganglion.Backend') as ServiceIdentifier<Backend>,

  /** Plugin declarations (multi-binding): every optimizer, clipping policy and schedule that can be chosen by name. */
  Plugin: Symbol.for('ganglion.Plugin') as ServiceIdentifier<AnyPluginSpec>,

  /** The optimizer in use (the composition root binds it, usually to a named plugin). */
  Optimizer: Symbol.for('ganglion.Optimizer') as ServiceIdentifier<Optimizer>,
  OptimizerOptions: Symbol.for('ganglion.OptimizerOptions') as ServiceIdentifier<OptimizerOptions>,

  ClippingPolicy: Symbol.for('ganglion.ClippingPolicy') as ServiceIdentifier<ClippingPolicy>,
  ClippingOptions: Symbol.for('ganglion.ClippingOptions') as ServiceIdentifier<ClippingOptions>,

  LrSchedule: Symbol.for('ganglion.LrSchedule') as ServiceIdentifier<LrSchedule>,
  ScheduleOptions: Symbol.for('ganglion.ScheduleOptions') as ServiceIdentifier<ScheduleOptions>,

  /** Layer plugins: every class bound here (multi-binding) can be loaded from a checkpoint. */
  LayerClass: Symbol.for('ganglion.LayerClass') as ServiceIdentifier<LayerClass<object>>,
  /** Resolves a layer kind to its class, from the LayerClass bindings. */
  LayerResolver: Symbol.for('ganglion.LayerResolver') as ServiceIdentifier<LayerResolver>,

  /** Tokenizer plugins (multi-binding): every kind a spec like `bpe:8192` or a saved tokenizer.json can name. */
  Tokenizer: Symbol.for('ganglion.Tokenizer') as ServiceIdentifier<TokenizerPlugin>,

  Trainer: Symbol.for('ganglion.Trainer') as ServiceIdentifier<Trainer>,
  TrainerOptions: Symbol.for('ganglion.TrainerOptions') as ServiceIdentifier<TrainerOptions>,
} as const;
