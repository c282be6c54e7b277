// @ganglion/layers: the built-in layer plugins, one file each.
import type { LayerClass } from '@ganglion/core';
import { Add } from './add.js';
import { Bidirectional } from './bidirectional.js';
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
import { FeedForward } from './feed-forward.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './lora.js';
import { MultiHeadAttention } from './multi-head-attention.js';
import { PositionEmbedding } from './position-embedding.js';
import { RMSNorm } from './rms-norm.js';
import { RotaryEmbedding } from './rotary-embedding.js';
import { SinusoidalPositionEmbedding } from './sinusoidal-position-embedding.js';
import { TiedHead } from './tied-head.js';
import { TransformerBlock } from './transformer-block.js';
import { Seq2SeqAttention } from './seq2seq-attention.js';
import { TransformerDecoderBlock } from './transformer-decoder-block.js';

export {
  Add,
  Concat,
  Dense,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  GRU,
  LSTM,
  MSE,
  ReLU,
  Reshape,
  Sigmoid,
  Softmax,
  SoftmaxCrossEntropy,
  Tanh,
};
export type { DenseConfig } from './dense.js';
export type { EmbeddingConfig } from './embedding.js';
export type { LSTMConfig } from './lstm.js';
export type { GRUConfig } from './gru.js';
export { Bidirectional };
export type { BidirectionalConfig } from './bidirectional.js';
export type { RecurrentConfig } from './recurrent.js';
export type { DropoutConfig } from './dropout.js';
export type { ConcatConfig } from './concat.js';
export type { ReshapeConfig } from './reshape.js';
export type { FlattenConfig } from './flatten.js';
export type { GELUConfig } from './gelu.js';
export type { SoftmaxConfig } from './softmax.js';
export { type ActivationName, activate } from './activation.js';
export {
  FeedForward,
  LayerNorm,
  Linear,
  MultiHeadAttention,
  PositionEmbedding,
  RMSNorm,
  RotaryEmbedding,
  SinusoidalPositionEmbedding,
  TiedHead,
  TransformerBlock,
};
export type { FeedForwardConfig } from './feed-forward.js';
export type { LayerNormConfig } from './layer-norm.js';
export type { AttentionLora, LinearConfig, LoraOptions, LoraTarget } from './lora.js';
export type { AttentionOptions, KVCache, MultiHeadAttentionConfig } from './multi-head-attention.js';
export type { PositionEmbeddingConfig } from './position-embedding.js';
export type { RMSNormConfig } from './rms-norm.js';
export type { RotaryEmbeddingConfig } from './rotary-embedding.js';
export type { SinusoidalPositionEmbeddingConfig } from './sinusoidal-position-embedding.js';
export type { TiedHeadConfig } from './tied-head.js';
export type { TransformerBlockConfig } from './transformer-block.js';
export { feedForward } from './feed-forward.js';
export { layerNorm } from './layer-norm.js';
export { multiHeadAttention } from './multi-head-attention.js';
export { rmsNorm } from './rms-norm.js';
export { rotary } from './rotary-embedding.js';
export { sinusoidalTable } from './sinusoidal-position-embedding.js';
export { MASKED, attentionBias, mergeHeads, scaledDotProductAttention, splitHeads, visibility } from './attention.js';
export { linear } from './linear.js';
export { loraDelta, loraParams, mergeLora } from './lora.js';
export { type GptOptions, charLstm, gpt } from './models.js';
export { Seq2SeqAttention, TransformerDecoderBlock };
export type { SoftmaxCrossEntropyConfig } from './softmax-cross-entropy.js';
export { type AttentionScore, type Seq2SeqAttentionConfig, seq2seqAttention } from './seq2seq-attention.js';
export type { TransformerDecoderBlockConfig } from './transformer-decoder-block.js';
export {
  IGNORE_LABEL,
  type Seq2SeqLstmOptions,
  type Seq2SeqOptions,
  type Seq2SeqTransformerOptions,
  decoderStepGraph,
  encoderGraph,
  memoryWidth,
  seq2seqGraph,
  seq2seqLstm,
  seq2seqTransformer,
} from './seq2seq-models.js';
export { type BertOptions, bert } from './bert-models.js';

/** Every built-in layer class, for registries. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- classes with different config types; a constructor's parameter type makes LayerClass<object> too narrow
export const builtinLayers: readonly LayerClass<any>[] = [
  Add,
  Concat,
  Dense,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  GRU,
  LSTM,
  MSE,
  ReLU,
  Reshape,
  Sigmoid,
  Softmax,
  SoftmaxCrossEntropy,
  Tanh,
  FeedForward,
  LayerNorm,
  Linear,
  MultiHeadAttention,
  PositionEmbedding,
  RMSNorm,
  RotaryEmbedding,
  SinusoidalPositionEmbedding,
  TiedHead,
  TransformerBlock,
  Bidirectional,
  Seq2SeqAttention,
  TransformerDecoderBlock,
];
export { bindLayerResolver, layersModule } from './module.js';
