// Every DI token, in one file, as typed symbols. Plugins (optimizers, clipping policies, LR
// schedules, layers, backends) are classes bound to these tokens in inversify ContainerModules;
// a user adds one by binding a class. Only composition roots (the CLI, createTrainer, tests)
// build containers.
import type { ServiceIdentifier } from 'inversify';
import type { Backend } from '../backend.js';
import type { LayerClass } from '../graph/layer.js';
import type { LayerResolver } from '../graph/graph.js';
import type { ClippingPolicy } from '../training/clipping/clipping-policy.js';
import type { LrSchedule } from '../training/schedules/lr-schedule.js';
import type { Optimizer } from '../training/optimizer.js';
import type { Trainer } from '../training/trainer.js';

/** Hyperparameters handed to whichever optimizer is bound (PyTorch names: lr, momentum, betas, ...). */
export type OptimizerOptions = Readonly<Record<string, number | boolean | readonly number[] | undefined>>;
export type ClippingOptions = Readonly<Record<string, number | undefined>>;
export type ScheduleOptions = Readonly<Record<string, number | undefined>>;

export interface TrainerOptions {
  /** Base learning rate, scaled by the schedule. */
  readonly lr: number;
}

export const TOKENS = {
  /** The compute backend new tensors and parameters live on. */
  Backend: Symbol.for('ganglion.Backend') as ServiceIdentifier<Backend>,

  /** Optimizer plugins, each bound `.whenNamed('<name>')` (sgd, adam, adamw, rmsprop, adagrad, ...). */
  OptimizerPlugin: Symbol.for('ganglion.OptimizerPlugin') as ServiceIdentifier<Optimizer>,
  /** The optimizer in use (the composition root binds it, usually to a named plugin). */
  Optimizer: Symbol.for('ganglion.Optimizer') as ServiceIdentifier<Optimizer>,
  OptimizerOptions: Symbol.for('ganglion.OptimizerOptions') as ServiceIdentifier<OptimizerOptions>,

  /** Clipping-policy plugins, named (none, value, norm, global-norm, ...). */
  ClippingPlugin: Symbol.for('ganglion.ClippingPlugin') as ServiceIdentifier<ClippingPolicy>,
  ClippingPolicy: Symbol.for('ganglion.ClippingPolicy') as ServiceIdentifier<ClippingPolicy>,
  ClippingOptions: Symbol.for('ganglion.ClippingOptions') as ServiceIdentifier<ClippingOptions>,

  /** Learning-rate schedule plugins, named (constant, step, cosine, ...). */
  SchedulePlugin: Symbol.for('ganglion.SchedulePlugin') as ServiceIdentifier<LrSchedule>,
  LrSchedule: Symbol.for('ganglion.LrSchedule') as ServiceIdentifier<LrSchedule>,
  ScheduleOptions: Symbol.for('ganglion.ScheduleOptions') as ServiceIdentifier<ScheduleOptions>,

  /** Layer plugins: every class bound here (multi-binding) can be loaded from a checkpoint. */
  LayerClass: Symbol.for('ganglion.LayerClass') as ServiceIdentifier<LayerClass<object>>,
  /** Resolves a layer kind to its class, from the LayerClass bindings. */
  LayerResolver: Symbol.for('ganglion.LayerResolver') as ServiceIdentifier<LayerResolver>,

  Trainer: Symbol.for('ganglion.Trainer') as ServiceIdentifier<Trainer>,
  TrainerOptions: Symbol.for('ganglion.TrainerOptions') as ServiceIdentifier<TrainerOptions>,
} as const;
