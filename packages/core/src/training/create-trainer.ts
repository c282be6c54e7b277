// The one container builder: every composition root (createTrainer, the CLI, tests) builds its
// container here, so plugins, the trainer and the active choice are wired the same way everywhere.
import { Container, type ContainerModule } from 'inversify';
import type { Backend } from '../backend.js';
import { type PluginChoice, bindActivePlugins, pluginsModule, trainingModule } from '../di/modules.js';
import { TOKENS } from '../di/tokens.js';
import type { Trainer } from './trainer.js';

export interface CreateTrainerOptions extends PluginChoice {
  /** Base learning rate (default 1e-3). */
  readonly lr?: number;
  readonly backend?: Backend;
  /** Extra modules (your own plugins, layers) loaded before the choice is bound. */
  readonly modules?: readonly ContainerModule[];
  /** Bindings that need the loaded modules (a layer resolver), made before the choice is bound. */
  readonly configure?: (container: Container) => void;
}

/**
 * A trainer from plain options:
 *
 *   const trainer = createTrainer({ optimizer: 'adamw', optimizerOptions: { weightDecay: 0.1 }, lr: 3e-3, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } });
 *   trainer.fit(runtime, data, { epochs: 5 }).subscribe(console.log);
 */
export function createTrainer(opts: CreateTrainerOptions = {}): Trainer {
  return createTrainingContainer(opts).get(TOKENS.Trainer);
}

/**
 * A container with every built-in plugin, the trainer, `opts.modules`, the backend, the learning
 * rate and the active plugins bound. Unknown plugin names and bad options throw ConfigError here.
 */
export function createTrainingContainer(opts: CreateTrainerOptions = {}): Container {
  const container = new Container();
  container.load(pluginsModule, trainingModule, ...(opts.modules ?? []));
  if (opts.backend) container.bind(TOKENS.Backend).toConstantValue(opts.backend);
  container.bind(TOKENS.TrainerOptions).toConstantValue({ lr: opts.lr ?? 1e-3 });
  opts.configure?.(container);
  bindActivePlugins(container, opts);
  return container;
}
