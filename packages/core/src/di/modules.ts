// Core's ContainerModules: the built-in optimizers, clipping policies and LR schedules as named
// plugins, and the trainer. A composition root loads these (plus the layers' and a backend's
// module) and binds the active plugin of each kind, usually with `bindActivePlugins`.
import { type Container, ContainerModule, type ServiceIdentifier } from 'inversify';
import { ConfigError } from '../errors.js';
import { ClipByGlobalNorm } from '../training/clipping/clip-by-global-norm.js';
import { ClipByNorm } from '../training/clipping/clip-by-norm.js';
import { ClipByValue } from '../training/clipping/clip-by-value.js';
import { NoClipping } from '../training/clipping/no-clipping.js';
import { Adagrad } from '../training/optimizers/adagrad.js';
import { Adam } from '../training/optimizers/adam.js';
import { AdamW } from '../training/optimizers/adamw.js';
import { RMSProp } from '../training/optimizers/rmsprop.js';
import { SGD } from '../training/optimizers/sgd.js';
import { ConstantSchedule } from '../training/schedules/constant.js';
import { CosineSchedule } from '../training/schedules/cosine.js';
import { StepDecaySchedule } from '../training/schedules/step-decay.js';
import { Trainer } from '../training/trainer.js';
import { type ClippingOptions, type OptimizerOptions, type ScheduleOptions, TOKENS } from './tokens.js';

export const optimizersModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.OptimizerPlugin).to(SGD).whenNamed('sgd');
  bind(TOKENS.OptimizerPlugin).to(Adam).whenNamed('adam');
  bind(TOKENS.OptimizerPlugin).to(AdamW).whenNamed('adamw');
  bind(TOKENS.OptimizerPlugin).to(RMSProp).whenNamed('rmsprop');
  bind(TOKENS.OptimizerPlugin).to(Adagrad).whenNamed('adagrad');
});

export const clippingModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.ClippingPlugin).to(NoClipping).whenNamed('none');
  bind(TOKENS.ClippingPlugin).to(ClipByValue).whenNamed('value');
  bind(TOKENS.ClippingPlugin).to(ClipByNorm).whenNamed('norm');
  bind(TOKENS.ClippingPlugin).to(ClipByGlobalNorm).whenNamed('global-norm');
});

export const schedulesModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.SchedulePlugin).to(ConstantSchedule).whenNamed('constant');
  bind(TOKENS.SchedulePlugin).to(StepDecaySchedule).whenNamed('step');
  bind(TOKENS.SchedulePlugin).to(CosineSchedule).whenNamed('cosine');
});

export const trainingModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.Trainer).to(Trainer);
});

export interface PluginChoice {
  readonly optimizer?: string;
  readonly optimizerOptions?: OptimizerOptions;
  readonly clipping?: string;
  readonly clippingOptions?: ClippingOptions;
  readonly schedule?: string;
  readonly scheduleOptions?: ScheduleOptions;
}

function named<T>(container: Container, token: ServiceIdentifier<T>, kind: string, name: string): T {
  try {
    return container.get<T>(token, { name });
  } catch (e) {
    throw new ConfigError(`unknown ${kind} "${name}": bind a class to TOKENS.${kind === 'optimizer' ? 'OptimizerPlugin' : kind === 'clipping policy' ? 'ClippingPlugin' : 'SchedulePlugin'} with .whenNamed('${name}') (${(e as Error).message.split('\n')[0]})`);
  }
}

/**
 * Bind the options and the active optimizer, clipping policy and schedule by plugin name, unless
 * the container already binds one (a user's own class wins).
 */
export function bindActivePlugins(container: Container, choice: PluginChoice): void {
  const bindOnce = <T>(token: ServiceIdentifier<T>, value: () => T) => {
    if (!container.isBound(token)) container.bind<T>(token).toDynamicValue(value).inSingletonScope();
  };
  if (!container.isBound(TOKENS.OptimizerOptions)) container.bind(TOKENS.OptimizerOptions).toConstantValue(choice.optimizerOptions ?? {});
  if (!container.isBound(TOKENS.ClippingOptions)) container.bind(TOKENS.ClippingOptions).toConstantValue(choice.clippingOptions ?? {});
  if (!container.isBound(TOKENS.ScheduleOptions)) container.bind(TOKENS.ScheduleOptions).toConstantValue(choice.scheduleOptions ?? {});
  bindOnce(TOKENS.Optimizer, () => named(container, TOKENS.OptimizerPlugin, 'optimizer', choice.optimizer ?? 'adam'));
  bindOnce(TOKENS.ClippingPolicy, () => named(container, TOKENS.ClippingPlugin, 'clipping policy', choice.clipping ?? 'none'));
  bindOnce(TOKENS.LrSchedule, () => named(container, TOKENS.SchedulePlugin, 'schedule', choice.schedule ?? 'constant'));
}
