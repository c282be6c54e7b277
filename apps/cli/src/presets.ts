// Model presets: a graph builder (from @ganglion/layers' models) plus the training defaults that
// go with it.
import type { Graph } from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';

export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: string;
  readonly clip: string;
  build(vocabSize: number): Graph;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  'char-lstm': {
    name: 'char-lstm',
    description: 'Embedding 64 -> LSTM 256 -> LSTM 256 -> Dense (the reference workload)',
    seqLen: 64,
    batchSize: 32,
    lr: 2e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
    build: charLstm(64, [256, 256]),
  },
  'char-lstm-small': {
    name: 'char-lstm-small',
    description: 'Embedding 32 -> LSTM 128 -> Dense (the demo: fits a few minutes on 2 cores)',
    seqLen: 64,
    batchSize: 32,
    lr: 4e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
    build: charLstm(32, [128]),
  },
  'char-gpt': {
    name: 'char-gpt',
    description:
      'GPT: tied Embedding 128 -> 4 TransformerBlocks (4 heads, RoPE, causal, context 128) -> LayerNorm -> tied head',
    seqLen: 128,
    batchSize: 8,
    lr: 2e-3,
    optimizer: 'adamw',
    clip: 'global-norm:1',
    build: gpt({ dim: 128, heads: 4, blocks: 4, context: 128, position: 'rope' }),
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);
