// The models the page trains: the CLI's presets of the same names (apps/cli/src/presets.ts), built
// with the same @ganglion/layers builders, so a checkpoint from the page is one the CLI reads.
import type { Graph, PluginChoice } from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';

export interface WebPreset {
  readonly name: string;
  readonly summary: string;
  /** The tokenizer trained on the user's text: a spec as the CLI's `--tokenizer` takes (`char`, `bpe:N`). */
  readonly tokenizer: 'char' | `bpe:${number}`;
  /** The model for a vocabulary (the tokenizer's). */
  readonly build: (vocabSize: number) => Graph;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly plugins: PluginChoice;
}

const adamLstm: PluginChoice = { optimizer: 'adam', clipping: 'global-norm', clippingOptions: { maxNorm: 1 } };
const adamwGpt: PluginChoice = { optimizer: 'adamw', clipping: 'global-norm', clippingOptions: { maxNorm: 1 } };

export const WEB_PRESETS: Readonly<Record<string, WebPreset>> = {
  'char-lstm': {
    name: 'char-lstm',
    summary: 'Embedding 64 → LSTM 256 → LSTM 256 → Dense (the reference workload)',
    tokenizer: 'char',
    build: charLstm(64, [256, 256]),
    seqLen: 64,
    batchSize: 32,
    lr: 2e-3,
    plugins: adamLstm,
  },
  'char-lstm-small': {
    name: 'char-lstm-small',
    summary: 'Embedding 32 → LSTM 128 → Dense (fast: the demo)',
    tokenizer: 'char',
    build: charLstm(32, [128]),
    seqLen: 64,
    batchSize: 32,
    lr: 4e-3,
    plugins: adamLstm,
  },
  'char-gpt': {
    name: 'char-gpt',
    summary: 'GPT: d 128, 4 blocks, 4 heads, RoPE, context 128',
    tokenizer: 'char',
    build: gpt({ dim: 128, heads: 4, blocks: 4, context: 128, position: 'rope' }),
    seqLen: 128,
    batchSize: 8,
    lr: 2e-3,
    plugins: adamwGpt,
  },
  'bpe-gpt': {
    name: 'bpe-gpt',
    summary:
      'GPT over byte-level BPE tokens learned from your text (up to 2,048): d 128, 4 blocks, 4 heads, RoPE, context 64',
    tokenizer: 'bpe:2048',
    build: gpt({ dim: 128, heads: 4, blocks: 4, context: 64, position: 'rope' }),
    seqLen: 64,
    batchSize: 16,
    lr: 2e-3,
    plugins: adamwGpt,
  },
};
