// Model presets: an architecture (built by @ganglion/layers' models), its tokenizer, and the
// training defaults that go with them. Size flags (--dim --blocks --heads --context for a GPT,
// --embed --units --layers for an LSTM) override a preset's architecture: `sizedModel`.
import type { Graph } from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';
import { UsageError } from './args.js';

export interface LstmModel {
  readonly kind: 'lstm';
  readonly embed: number;
  /** Width of each stacked LSTM. */
  readonly units: readonly number[];
}

export interface GptModel {
  readonly kind: 'gpt';
  readonly dim: number;
  readonly heads: number;
  readonly blocks: number;
  readonly context: number;
}

export type ModelShape = LstmModel | GptModel;

/** What a run starts from when a flag is not given: a preset's, or finetune's (whose model is the checkpoint). */
export interface TrainingDefaults {
  readonly name: string;
  readonly summary: string;
  readonly model?: ModelShape;
  /** The tokenizer spec when --tokenizer is not given (`char`, `word:8192`, `bpe:4096`). */
  readonly tokenizer: string;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: string;
  readonly clip: string;
}

export interface Preset extends TrainingDefaults {
  readonly model: ModelShape;
}

/** The name `ganglion finetune` runs record as their preset. */
export const FINETUNE = 'finetune';

const FINETUNE_DEFAULTS: TrainingDefaults = {
  name: FINETUNE,
  summary: 'fine-tuning a checkpoint (imported or trained): its model and tokenizer',
  tokenizer: 'char',
  seqLen: 128,
  batchSize: 8,
  lr: 1e-4,
  optimizer: 'adamw',
  clip: 'global-norm:1',
};

/** A preset's training defaults, or finetune's; undefined for an unknown name. */
export function trainingDefaults(name: string): TrainingDefaults | undefined {
  return name === FINETUNE ? FINETUNE_DEFAULTS : PRESETS[name];
}

/** The graph of a model shape for a vocabulary. */
export function buildModel(m: ModelShape, vocabSize: number): Graph {
  return m.kind === 'lstm'
    ? charLstm(m.embed, m.units)(vocabSize)
    : gpt({ dim: m.dim, heads: m.heads, blocks: m.blocks, context: m.context, position: 'rope' })(vocabSize);
}

/** `Embedding 64 -> LSTM 256 -> LSTM 256 -> Dense`; `GPT: d 384, 6 blocks, 6 heads, context 256`. */
export function describeModel(m: ModelShape): string {
  return m.kind === 'lstm'
    ? `Embedding ${m.embed} -> ${m.units.map((u) => `LSTM ${u}`).join(' -> ')} -> Dense`
    : `GPT: tied Embedding ${m.dim} -> ${m.blocks} TransformerBlocks (${m.heads} heads, RoPE, causal, context ${m.context}) -> LayerNorm -> tied head`;
}

const adamLstm = { optimizer: 'adam', clip: 'global-norm:1' } as const;
const adamwGpt = { optimizer: 'adamw', clip: 'global-norm:1' } as const;

export const PRESETS: Readonly<Record<string, Preset>> = {
  'char-lstm': {
    name: 'char-lstm',
    summary: 'the reference workload',
    model: { kind: 'lstm', embed: 64, units: [256, 256] },
    tokenizer: 'char',
    seqLen: 64,
    batchSize: 32,
    lr: 2e-3,
    ...adamLstm,
  },
  'char-lstm-small': {
    name: 'char-lstm-small',
    summary: 'the demo: fits a few minutes on 2 cores',
    model: { kind: 'lstm', embed: 32, units: [128] },
    tokenizer: 'char',
    seqLen: 64,
    batchSize: 32,
    lr: 4e-3,
    ...adamLstm,
  },
  'char-gpt': {
    name: 'char-gpt',
    summary: 'a small GPT over characters',
    model: { kind: 'gpt', dim: 128, heads: 4, blocks: 4, context: 128 },
    tokenizer: 'char',
    seqLen: 128,
    batchSize: 8,
    lr: 2e-3,
    ...adamwGpt,
  },
  'word-lstm': {
    name: 'word-lstm',
    summary: 'word vectors: a word-level LSTM language model',
    model: { kind: 'lstm', embed: 128, units: [256] },
    tokenizer: 'word:4096',
    seqLen: 32,
    batchSize: 32,
    lr: 2e-3,
    ...adamLstm,
  },
  'bpe-gpt': {
    name: 'bpe-gpt',
    summary: 'a small GPT over byte-level BPE tokens, trained on the corpus',
    model: { kind: 'gpt', dim: 128, heads: 4, blocks: 4, context: 64 },
    tokenizer: 'bpe:2048',
    seqLen: 64,
    batchSize: 16,
    lr: 2e-3,
    ...adamwGpt,
  },
  'gpt-mini': {
    name: 'gpt-mini',
    summary: 'about 10M parameters (plus the embedding), for corpora of tens of MB',
    model: { kind: 'gpt', dim: 384, heads: 6, blocks: 6, context: 256 },
    tokenizer: 'bpe:8192',
    seqLen: 256,
    batchSize: 8,
    lr: 6e-4,
    ...adamwGpt,
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);

/** The size flags as given (undefined: the preset's). */
export interface SizeFlags {
  readonly dim?: number;
  readonly blocks?: number;
  readonly heads?: number;
  readonly context?: number;
  readonly embed?: number;
  readonly units?: number;
  readonly layers?: number;
}

const GPT_FLAGS = ['dim', 'blocks', 'heads', 'context'] as const;
const LSTM_FLAGS = ['embed', 'units', 'layers'] as const;

/** The preset's model with the size flags applied; a flag of the other family, or heads that do not divide dim, is a UsageError. */
export function sizedModel(preset: Preset, flags: SizeFlags): ModelShape {
  const m = preset.model;
  const wrong = (m.kind === 'gpt' ? LSTM_FLAGS : GPT_FLAGS).filter((k) => flags[k] !== undefined);
  if (wrong.length > 0)
    throw new UsageError(
      `--${wrong[0]} sizes ${m.kind === 'gpt' ? 'an LSTM' : 'a GPT'}, but preset ${preset.name} is ${m.kind === 'gpt' ? 'a GPT (use --dim --blocks --heads --context)' : 'an LSTM (use --embed --units --layers)'}`,
    );
  if (m.kind === 'lstm') {
    const units = flags.units ?? m.units[0];
    const layers = flags.layers ?? m.units.length;
    const same = flags.units === undefined && flags.layers === undefined;
    return { kind: 'lstm', embed: flags.embed ?? m.embed, units: same ? m.units : Array(layers).fill(units) };
  }
  const sized: GptModel = {
    kind: 'gpt',
    dim: flags.dim ?? m.dim,
    heads: flags.heads ?? m.heads,
    blocks: flags.blocks ?? m.blocks,
    context: flags.context ?? m.context,
  };
  if (sized.dim % sized.heads !== 0 || (sized.dim / sized.heads) % 2 !== 0)
    throw new UsageError(
      `--dim ${sized.dim} and --heads ${sized.heads}: each head needs an even width (dim / heads), for RoPE; got ${sized.dim / sized.heads}`,
    );
  return sized;
}
