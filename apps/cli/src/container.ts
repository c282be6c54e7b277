// The composition root: the CLI's container is core's createTrainingContainer plus the layers'
// and the tokenizers' modules, with the backend the user picked and the active plugins by name.
import { Container } from 'inversify';
import {
  type Backend,
  type PluginChoice,
  ReferenceBackend,
  TOKENS,
  TokenizerRegistry,
  createTrainingContainer,
  setBackend,
} from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { bindLayerResolver, layersModule } from '@ganglion/layers';
import { tokenizersModule } from '@ganglion/text';

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
  const container = createTrainingContainer({
    ...choice,
    modules: [layersModule, tokenizersModule],
    configure: bindLayerResolver,
  });
  setBackend(choice.backend);
  return container;
}

/** The tokenizer plugins bound to TOKENS.Tokenizer: `container`'s, or the built-in ones'. */
export function tokenizerRegistry(container?: Container): TokenizerRegistry {
  let c = container;
  if (!c) {
    c = new Container();
    void c.load(tokenizersModule);
  }
  return new TokenizerRegistry(c.getAll(TOKENS.Tokenizer));
}
