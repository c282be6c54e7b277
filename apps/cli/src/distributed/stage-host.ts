// The CLI's StageHost: a stage process makes its backend by name (the CLI's backends, loaded only
// when asked for, so a stage on the reference backend starts without tfjs) and gets its layers,
// optimizer and clipping policy from a training container with the layers' module.
import { ReferenceBackend, TOKENS, type Trainer, createTrainingContainer } from '@ganglion/core';
import { bindLayerResolver, layersModule } from '@ganglion/layers';
import type { StageHost } from './stage-worker.js';

export const cliStageHost: StageHost = {
  createBackend: async (name) =>
    name === 'reference' ? new ReferenceBackend() : (await import('../container.js')).createBackend(name),
  training(config, backend) {
    const container = createTrainingContainer({
      ...config.plugins,
      lr: config.lr,
      backend,
      modules: [layersModule],
      configure: bindLayerResolver,
    });
    const trainer: Trainer = container.get(TOKENS.Trainer);
    return { resolve: container.get(TOKENS.LayerResolver), optimizer: trainer.optimizer, clipping: trainer.clipping };
  },
};
