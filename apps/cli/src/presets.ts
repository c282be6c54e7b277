// Model presets: an architecture (built by @ganglion/layers' models), its tokenizer, and the
// training defaults that go with them. Size flags (--dim --blocks --heads --context for a GPT,
// --embed --units --layers for an LSTM) override a preset's architecture: `sizedModel`. A BERT
// (masked-LM encoder) takes the GPT's size flags; its context is the longest window it reads. An
// encoder–decoder (g2p) takes --dim --blocks --heads (Transformer) or --embed --units --layers (LSTM).
import type { Graph } from '@ganglion/core';
import { type Seq2SeqOptions, bert, charLstm, gpt, seq2seqGraph } from '@ganglion/layers';
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

/** A bidirectional encoder with a masked-LM head (learned positions: windows of at most `context`). */
export interface BertModel {
  readonly kind: 'bert';
  readonly dim: number;
  readonly heads: number;
  readonly blocks: number;
  readonly context: number;
}

/**
 * An encoder–decoder (preset g2p): a Transformer (sinusoidal positions, `blocks` on each side) or a
 * bidirectional LSTM encoder with an LSTM decoder and Luong attention (`layers` on each side).
 */
export type Seq2SeqModel =
  | {
      readonly kind: 'seq2seq';
      readonly arch: 'transformer';
      readonly dim: number;
      readonly heads: number;
      readonly blocks: number;
      /** FeedForward width. */
      readonly hidden: number;
      readonly dropout: number;
    }
  | {
      readonly kind: 'seq2seq';
      readonly arch: 'lstm';
      readonly embed: number;
      readonly units: number;
      readonly layers: number;
      readonly dropout: number;
    };

export type ModelShape = LstmModel | GptModel | BertModel | Seq2SeqModel;

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
  if (m.kind === 'seq2seq') return seq2seqGraph(seq2seqOptions(m, vocabSize, vocabSize));
  if (m.kind === 'bert') return bert({ dim: m.dim, heads: m.heads, blocks: m.blocks, context: m.context })(vocabSize);
  return m.kind === 'lstm'
    ? charLstm(m.embed, m.units)(vocabSize)
    : gpt({ dim: m.dim, heads: m.heads, blocks: m.blocks, context: m.context, position: 'rope' })(vocabSize);
}

/** `Embedding 64 -> LSTM 256 -> LSTM 256 -> Dense`; `GPT: d 384, 6 blocks, 6 heads, context 256`. */
export function describeModel(m: ModelShape): string {
  if (m.kind === 'seq2seq')
    return m.arch === 'transformer'
      ? `Transformer encoder–decoder: ${m.blocks} + ${m.blocks} blocks, d ${m.dim}, ${m.heads} heads, feed-forward ${m.hidden}, sinusoidal positions, dropout ${m.dropout}`
      : `LSTM encoder–decoder: Embedding ${m.embed} -> ${m.layers}× bidirectional LSTM (${m.units / 2} per direction) -> ${m.layers}× LSTM ${m.units} with Luong attention (general) -> Dense, dropout ${m.dropout}`;
  if (m.kind === 'bert')
    return `BERT: tied Embedding ${m.dim} + learned positions -> ${m.blocks} TransformerBlocks (${m.heads} heads, bidirectional, context ${m.context}) -> LayerNorm -> MLM head (Dense, GELU, LayerNorm, tied decoder + bias)`;
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
  g2p: {
    name: 'g2p',
    summary: 'grapheme to phoneme on CMUdict (LSTMs with attention): ganglion translate pronounces words',
    model: { kind: 'seq2seq', arch: 'lstm', embed: 64, units: 256, layers: 1, dropout: 0.1 },
    tokenizer: 'char',
    seqLen: 32,
    batchSize: 64,
    lr: 2e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
  },
  'g2p-transformer': {
    name: 'g2p-transformer',
    summary: 'g2p with a Transformer encoder–decoder (the runner-up: slower per step on 2 cores)',
    model: { kind: 'seq2seq', arch: 'transformer', dim: 128, heads: 4, blocks: 2, hidden: 512, dropout: 0.1 },
    tokenizer: 'char',
    seqLen: 32,
    batchSize: 64,
    lr: 1e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
  },
  'bert-mini': {
    name: 'bert-mini',
    summary: 'a masked-LM encoder (BERT): ganglion fill-mask predicts the [MASK] tokens of a text',
    model: { kind: 'bert', dim: 128, heads: 4, blocks: 4, context: 128 },
    tokenizer: 'word:4096',
    seqLen: 128,
    batchSize: 16,
    lr: 1e-3,
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
  if (m.kind === 'seq2seq') return sizedSeq2Seq(preset.name, m, flags);
  const wrong = (m.kind === 'lstm' ? GPT_FLAGS : LSTM_FLAGS).filter((k) => flags[k] !== undefined);
  if (wrong.length > 0)
    throw new UsageError(
      `--${wrong[0]} sizes ${m.kind === 'lstm' ? 'a GPT' : 'an LSTM'}, but preset ${preset.name} is ${m.kind === 'lstm' ? 'an LSTM (use --embed --units --layers)' : `a ${m.kind === 'gpt' ? 'GPT' : 'BERT'} (use --dim --blocks --heads --context)`}`,
    );
  if (m.kind === 'lstm') {
    const units = flags.units ?? m.units[0];
    const layers = flags.layers ?? m.units.length;
    const same = flags.units === undefined && flags.layers === undefined;
    return { kind: 'lstm', embed: flags.embed ?? m.embed, units: same ? m.units : Array(layers).fill(units) };
  }
  const sized: GptModel | BertModel = {
    kind: m.kind,
    dim: flags.dim ?? m.dim,
    heads: flags.heads ?? m.heads,
    blocks: flags.blocks ?? m.blocks,
    context: flags.context ?? m.context,
  };
  if (sized.kind === 'bert' && sized.dim % sized.heads !== 0)
    throw new UsageError(`--dim ${sized.dim} and --heads ${sized.heads}: the heads must divide the width`);
  if (sized.kind === 'gpt' && (sized.dim % sized.heads !== 0 || (sized.dim / sized.heads) % 2 !== 0))
    throw new UsageError(
      `--dim ${sized.dim} and --heads ${sized.heads}: each head needs an even width (dim / heads), for RoPE; got ${sized.dim / sized.heads}`,
    );
  return sized;
}

/** The options of @ganglion/layers' seq2seqGraph for a model shape and its two vocabularies. */
export function seq2seqOptions(m: Seq2SeqModel, srcVocab: number, tgtVocab: number): Seq2SeqOptions {
  return m.arch === 'transformer'
    ? {
        arch: 'transformer',
        srcVocab,
        tgtVocab,
        dim: m.dim,
        heads: m.heads,
        encoderBlocks: m.blocks,
        decoderBlocks: m.blocks,
        hidden: m.hidden,
        dropout: m.dropout,
      }
    : {
        arch: 'lstm',
        srcVocab,
        tgtVocab,
        embed: m.embed,
        units: m.units,
        encoderLayers: m.layers,
        decoderLayers: m.layers,
        score: 'general',
        dropout: m.dropout,
      };
}

/** An encoder–decoder with the size flags of its architecture applied (the feed-forward keeps its ratio to dim). */
function sizedSeq2Seq(name: string, m: Seq2SeqModel, flags: SizeFlags): Seq2SeqModel {
  const allowed: readonly (keyof SizeFlags)[] = m.arch === 'transformer' ? ['dim', 'blocks', 'heads'] : LSTM_FLAGS;
  const wrong = [...GPT_FLAGS, ...LSTM_FLAGS].find((k) => flags[k] !== undefined && !allowed.includes(k));
  if (wrong)
    throw new UsageError(
      `--${wrong}: preset ${name} is ${m.arch === 'transformer' ? 'a Transformer encoder–decoder (use --dim --blocks --heads; positions are sinusoidal, so no --context)' : 'an LSTM encoder–decoder (use --embed --units --layers)'}`,
    );
  if (m.arch === 'lstm') {
    const units = flags.units ?? m.units;
    if (units % 2 !== 0)
      throw new UsageError(`--units ${units}: the encoder runs units / 2 per direction, so units must be even`);
    return { ...m, embed: flags.embed ?? m.embed, units, layers: flags.layers ?? m.layers };
  }
  const dim = flags.dim ?? m.dim;
  const heads = flags.heads ?? m.heads;
  if (dim % heads !== 0 || dim % 2 !== 0)
    throw new UsageError(
      `--dim ${dim} and --heads ${heads}: the heads must divide the width, and sinusoidal positions need it even`,
    );
  return { ...m, dim, heads, blocks: flags.blocks ?? m.blocks, hidden: Math.round((m.hidden / m.dim) * dim) };
}
