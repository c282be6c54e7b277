// The composition root: the one place that builds the DI container. It loads every package's
// ContainerModule, binds the backend the user picked and the active plugins by name.
import { Container } from 'inversify';
import { type Backend, type PluginChoice, ReferenceBackend, TOKENS, bindActivePlugins, clippingModule, optimizersModule, schedulesModule, setBackend, trainingModule } from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { bindLayerResolver, layersModule } from '@ganglion/layers';

/**
 * 'onnx' (the default for training) compiles each training step into one ONNX graph and runs it in
 * onnxruntime; evaluation, checkpoints and generation around it run eagerly on tfjs-wasm.
 */
export const BACKENDS = ['onnx', 'tfjs-wasm', 'tfjs', 'reference'] as const;
export type BackendName = (typeof BACKENDS)[number];

export async function createBackend(name: BackendName): Promise<Backend> {
  switch (name) {
    case 'onnx':
    case 'tfjs-wasm':
      return TfjsBackend.create('wasm');
    case 'tfjs':
      return TfjsBackend.create('cpu');
    case 'reference':
      return new ReferenceBackend();
  }
}

export interface ContainerChoice extends PluginChoice {
  readonly lr: number;
  readonly backend: Backend;
}

export function buildContainer(choice: ContainerChoice): Container {
  const container = new Container();
  container.load(optimizersModule, clippingModule, schedulesModule, trainingModule, layersModule);
  container.bind(TOKENS.Backend).toConstantValue(choice.backend);
  container.bind(TOKENS.TrainerOptions).toConstantValue({ lr: choice.lr });
  bindLayerResolver(container);
  bindActivePlugins(container, choice);
  setBackend(choice.backend);
  return container;
}
