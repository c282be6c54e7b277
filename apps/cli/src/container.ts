// The composition root: the CLI's container is core's createTrainingContainer plus the layers'
// module, with the backend the user picked and the active plugins by name.
import type { Container } from 'inversify';
import { type Backend, type PluginChoice, ReferenceBackend, createTrainingContainer, setBackend } from '@ganglion/core';
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
  const container = createTrainingContainer({ ...choice, modules: [layersModule], configure: bindLayerResolver });
  setBackend(choice.backend);
  return container;
}
