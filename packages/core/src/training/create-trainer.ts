// createTrainer: a trainer for users who never touch a container, built on the same container and
// modules the CLI uses.
import { Container, type ContainerModule } from 'inversify';
import type { Backend } from '../backend.js';
import { clippingModule, optimizersModule, schedulesModule, trainingModule, bindActivePlugins, type PluginChoice } from '../di/modules.js';
import { TOKENS } from '../di/tokens.js';
import type { Trainer } from './trainer.js';

export interface CreateTrainerOptions extends PluginChoice {
  /** Base learning rate (default 1e-3). */
  readonly lr?: number;
  readonly backend?: Backend;
  /** Extra modules (your own optimizers, policies, layers) loaded before the choice is bound. */
  readonly modules?: readonly ContainerModule[];
}

/**
 * A trainer from plain options:
 *
 *   const trainer = createTrainer({ optimizer: 'adamw', lr: 3e-3, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } });
 *   trainer.fit(runtime, data, { epochs: 5 }).subscribe(console.log);
 */
export function createTrainer(opts: CreateTrainerOptions = {}): Trainer {
  return createTrainingContainer(opts).get(TOKENS.Trainer);
}

export function createTrainingContainer(opts: CreateTrainerOptions = {}): Container {
  const container = new Container();
  container.load(optimizersModule, clippingModule, schedulesModule, trainingModule, ...(opts.modules ?? []));
  if (opts.backend) container.bind(TOKENS.Backend).toConstantValue(opts.backend);
  container.bind(TOKENS.TrainerOptions).toConstantValue({ lr: opts.lr ?? 1e-3 });
  bindActivePlugins(container, opts);
  return container;
}
