// @ganglion/layers: the built-in layer plugins, one file each.
import type { LayerClass } from '@ganglion/core';
import { Add } from './add.js';
import { Concat } from './concat.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { Flatten } from './flatten.js';
import { GELU } from './gelu.js';
import { GRU } from './gru.js';
import { LSTM } from './lstm.js';
import { MSE } from './mse.js';
import { ReLU } from './relu.js';
import { Reshape } from './reshape.js';
import { Sigmoid } from './sigmoid.js';
import { Softmax } from './softmax.js';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.js';
import { Tanh } from './tanh.js';

export { Add, Concat, Dense, Dropout, Embedding, Flatten, GELU, GRU, LSTM, MSE, ReLU, Reshape, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh };
export type { DenseConfig } from './dense.js';
export type { EmbeddingConfig } from './embedding.js';
export type { LSTMConfig } from './lstm.js';
export type { GRUConfig } from './gru.js';
export type { DropoutConfig } from './dropout.js';
export type { ConcatConfig } from './concat.js';
export type { ReshapeConfig } from './reshape.js';
export type { FlattenConfig } from './flatten.js';
export type { GELUConfig } from './gelu.js';
export type { SoftmaxConfig } from './softmax.js';
export { type ActivationName, activate } from './activation.js';

/** Every built-in layer class, for registries. */
export const builtinLayers: readonly LayerClass<any>[] = [Add, Concat, Dense, Dropout, Embedding, Flatten, GELU, GRU, LSTM, MSE, ReLU, Reshape, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh];
export { bindLayerResolver, layersModule } from './module.js';
