// Encoder–decoder model graphs built from the layers here: (a) a Transformer (TransformerBlock
// encoder, TransformerDecoderBlock decoder) and (b) an LSTM encoder (bidirectional, mask-aware)
// with an LSTM decoder and Luong-style attention (Seq2SeqAttention). Each comes as three graphs
// over the same node names, so one ParamStore serves all three:
//
//   training graph (seq2seqTransformer / seq2seqLstm / seq2seqGraph), teacher forcing:
//     inputs  src [batch, src_time] int32, src_mask [batch, src_time] float32 (1 = token,
//             0 = padding), tgt_in [batch, tgt_time] int32 (BOS + target), labels [batch, tgt_time]
//             int32 (target + EOS; padding = IGNORE_LABEL = -1, left out of the loss)
//     outputs logits [batch, tgt_time, tgtVocab], loss (mean cross-entropy over real labels)
//   encoderGraph(o):      src, src_mask -> memory [batch, src_time, memoryWidth(o)]
//   decoderStepGraph(o):  tgt_in, memory, src_mask -> logits [batch, tgt_time, tgtVocab]
//
// Decoding: run the encoder once, then the decoder-step graph one token per wave with
// `runtime.forward({ tgt_in, memory, src_mask }, { stream: true, position: t })` (t = 0 for BOS),
// feeding the same memory and src_mask each wave; `runtime.resetState()` before each new batch.
// The decoder's state is carried by its nodes as runtime state: the Transformer's `decN` nodes
// (TransformerDecoderBlock) each carry a KV cache { key, value [batch, heads, t, headDim], end };
// the LSTM's `decN` nodes carry { h, c } [batch, units]. No other node has state. Feeding several
// tokens in one wave (a prefix) is the same as feeding them one by one. Every state is batch-first
// (the cache's `end` is a scalar), so a beam search re-ranks or grows its beams with
// `runtime.reorderState(rows)`, gathering memory and src_mask rows the same way.
//
// Node names and parameters (N = 1 .. encoder depth, M = 1 .. decoder depth):
//   Transformer:
//     src_embed (Embedding: weight [srcVocab, dim]), src_pos (SinusoidalPositionEmbedding, or with
//     position 'learned' PositionEmbedding: weight [maxLen, dim]), src_drop (Dropout; only with
//     dropout), encN (TransformerBlock, not causal, mask = src_mask: ln1, attn, ln2, ff as in
//     transformer-block.ts), enc_ln (LayerNorm: weight, bias [dim]) -> memory;
//     tgt_embed (weight [tgtVocab, dim]), tgt_pos, tgt_drop, decM (TransformerDecoderBlock: ln1,
//     attn, ln2, cross, ln3, ff as in transformer-decoder-block.ts), dec_ln (LayerNorm), head
//     (Dense: kernel [dim, tgtVocab], bias [tgtVocab]) -> logits; loss (SoftmaxCrossEntropy).
//   LSTM:
//     src_embed (weight [srcVocab, embed]), src_drop (only with dropout), encN (Bidirectional LSTM,
//     units/2 per direction, outputs concatenated, mask = src_mask; PyTorch's layout:
//     weight_ih, weight_hh, bias_ih, bias_hh and their *_reverse) -> memory [.., units];
//     tgt_embed (weight [tgtVocab, embed]), tgt_drop, decM (LSTM units, zero initial state:
//     weight_ih, weight_hh, bias_ih, bias_hh), attn (Seq2SeqAttention over memory with src_mask:
//     'general' weight [units, units]; 'additive' query_weight, memory_weight, v), attn_concat
//     (Concat [context; decoder output]), attn_out (Dense tanh: kernel [2·units, units], bias —
//     Luong's attentional hidden state h̃ = tanh(W_c [c; h])), out_drop (only with dropout), head
//     (Dense: kernel [units, tgtVocab], bias) -> logits; loss.
//   NOTE: no input feeding (Luong's h̃_{t-1} into the next step's input), so teacher forcing runs
//   the whole target in one wave and the decoder's only state is its LSTMs'.
import { AttributeError, type Graph, GraphBuilder, type Port } from '@ganglion/core';
import { Bidirectional } from './bidirectional.js';
import { Concat } from './concat.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { LayerNorm } from './layer-norm.js';
import { LSTM } from './lstm.js';
import { PositionEmbedding } from './position-embedding.js';
import { type AttentionScore, Seq2SeqAttention } from './seq2seq-attention.js';
import { SinusoidalPositionEmbedding } from './sinusoidal-position-embedding.js';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.js';
import { TransformerBlock } from './transformer-block.js';
import { TransformerDecoderBlock } from './transformer-decoder-block.js';

/** The label of padded target positions: the loss ignores it. */
export const IGNORE_LABEL = -1;

export interface Seq2SeqTransformerOptions {
  readonly srcVocab: number;
  readonly tgtVocab: number;
  /** Model width (embeddings, blocks, memory). */
  readonly dim: number;
  readonly heads: number;
  readonly encoderBlocks: number;
  readonly decoderBlocks: number;
  /** FeedForward hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** Dropout on embeddings, attention weights and residual branches, in training. Default 0. */
  readonly dropout?: number;
  /** 'sinusoidal' (default; no length limit) or 'learned' (PositionEmbedding of maxLen rows). */
  readonly position?: 'sinusoidal' | 'learned';
  /** Longest source or target with learned positions (a longer one is an error). */
  readonly maxLen?: number;
}

export interface Seq2SeqLstmOptions {
  readonly srcVocab: number;
  readonly tgtVocab: number;
  /** Embedding width (source and target). */
  readonly embed: number;
  /** Decoder LSTM width, and the memory's: the encoder runs units / 2 per direction. */
  readonly units: number;
  /** Stacked bidirectional encoder LSTMs. Default 1. */
  readonly encoderLayers?: number;
  /** Stacked decoder LSTMs. Default 1. */
  readonly decoderLayers?: number;
  /** Attention score: Luong's 'dot' or 'general' (default), or Bahdanau's 'additive'. */
  readonly score?: AttentionScore;
  /** Dropout on embeddings and on the attentional hidden state, in training. Default 0. */
  readonly dropout?: number;
  /** Variational dropout on every LSTM's recurrent state, in training (recurrent.ts). Default 0. */
  readonly recurrentDropout?: number;
}

export type Seq2SeqOptions =
  ({ readonly arch: 'transformer' } & Seq2SeqTransformerOptions) | ({ readonly arch: 'lstm' } & Seq2SeqLstmOptions);

/** The encoder output's width: dim (Transformer) or units (LSTM). */
export function memoryWidth(o: Seq2SeqOptions): number {
  return o.arch === 'transformer' ? o.dim : o.units;
}

/**
 * The Transformer encoder–decoder's training graph (see the header for names).
 *
 *   const graph = seq2seqTransformer({ srcVocab: 30, tgtVocab: 42, dim: 128, heads: 4, encoderBlocks: 3, decoderBlocks: 3 });
 */
export function seq2seqTransformer(o: Seq2SeqTransformerOptions): Graph {
  return seq2seqGraph({ arch: 'transformer', ...o });
}

/**
 * The LSTM encoder–decoder with attention's training graph (see the header for names).
 *
 *   const graph = seq2seqLstm({ srcVocab: 30, tgtVocab: 42, embed: 64, units: 256, score: 'general' });
 */
export function seq2seqLstm(o: Seq2SeqLstmOptions): Graph {
  return seq2seqGraph({ arch: 'lstm', ...o });
}

/** The training graph of either architecture: src, src_mask, tgt_in, labels -> logits, loss. */
export function seq2seqGraph(o: Seq2SeqOptions): Graph {
  check(o);
  const g = new GraphBuilder();
  const src = g.input('src', ['batch', 'src_time'], 'int32');
  const srcMask = g.input('src_mask', ['batch', 'src_time'], 'float32');
  const tgtIn = g.input('tgt_in', ['batch', 'tgt_time'], 'int32');
  const labels = g.input('labels', ['batch', 'tgt_time'], 'int32');
  const memory = encoder(g, o, src, srcMask);
  const logits = decoder(g, o, tgtIn, memory, srcMask);
  g.output('logits', logits);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy({ ignoreIndex: IGNORE_LABEL }), { logits, labels }));
  return g.build();
}

/**
 * The encoder alone: src, src_mask -> memory [batch, src_time, memoryWidth(o)].
 *
 *   const { memory } = new Runtime(encoderGraph(o), { params: trained }).forward({ src, src_mask });
 */
export function encoderGraph(o: Seq2SeqOptions): Graph {
  check(o);
  const g = new GraphBuilder();
  const src = g.input('src', ['batch', 'src_time'], 'int32');
  const srcMask = g.input('src_mask', ['batch', 'src_time'], 'float32');
  g.output('memory', encoder(g, o, src, srcMask));
  return g.build();
}

/**
 * The decoder alone, to run one token per streaming wave: tgt_in, memory, src_mask -> logits.
 *
 *   const dec = new Runtime(decoderStepGraph(o), { params: trained });
 *   const { logits } = dec.forward({ tgt_in: bos, memory, src_mask }, { stream: true, position: 0 });
 */
export function decoderStepGraph(o: Seq2SeqOptions): Graph {
  check(o);
  const g = new GraphBuilder();
  const tgtIn = g.input('tgt_in', ['batch', 'tgt_time'], 'int32');
  const memory = g.input('memory', ['batch', 'src_time', memoryWidth(o)], 'float32');
  const srcMask = g.input('src_mask', ['batch', 'src_time'], 'float32');
  g.output('logits', decoder(g, o, tgtIn, memory, srcMask));
  return g.build();
}

function check(o: Seq2SeqOptions): void {
  const positive = (name: string, v: number | undefined, required = true) => {
    if ((v !== undefined || required) && !(Number.isInteger(v) && (v as number) >= 1))
      throw new AttributeError(`seq2seq ${o.arch}: ${name} must be a positive integer, got ${v}`);
  };
  positive('srcVocab', o.srcVocab);
  positive('tgtVocab', o.tgtVocab);
  if (o.arch === 'transformer') {
    positive('encoderBlocks', o.encoderBlocks);
    positive('decoderBlocks', o.decoderBlocks);
    if (o.position === 'learned') positive('maxLen', o.maxLen);
  } else {
    positive('encoderLayers', o.encoderLayers, false);
    positive('decoderLayers', o.decoderLayers, false);
    if (!(Number.isInteger(o.units) && o.units >= 2 && o.units % 2 === 0))
      throw new AttributeError(
        `seq2seq lstm: units must be an even integer (units / 2 per encoder direction), got ${o.units}`,
      );
  }
}

/** Embedding + positions (Transformer only) + dropout, named `<side>_embed`, `<side>_pos`, `<side>_drop`. */
function embedded(g: GraphBuilder, o: Seq2SeqOptions, side: 'src' | 'tgt', ids: Port): Port {
  const vocabSize = side === 'src' ? o.srcVocab : o.tgtVocab;
  let h: Port;
  if (o.arch === 'transformer') {
    h = g.node(`${side}_embed`, new Embedding({ vocabSize, dim: o.dim }), ids);
    const pos =
      o.position === 'learned'
        ? new PositionEmbedding({ maxLen: o.maxLen!, dim: o.dim })
        : new SinusoidalPositionEmbedding();
    h = g.node(`${side}_pos`, pos, h);
  } else {
    h = g.node(`${side}_embed`, new Embedding({ vocabSize, dim: o.embed }), ids);
  }
  return o.dropout ? g.node(`${side}_drop`, new Dropout({ rate: o.dropout }), h) : h;
}

function encoder(g: GraphBuilder, o: Seq2SeqOptions, src: Port, mask: Port): Port {
  let h = embedded(g, o, 'src', src);
  if (o.arch === 'transformer') {
    const config = { heads: o.heads, hidden: o.hidden, dropout: o.dropout };
    for (let i = 1; i <= o.encoderBlocks; i++) h = g.node(`enc${i}`, new TransformerBlock(config), { x: h, mask });
    return g.node('enc_ln', new LayerNorm(), h);
  }
  const layers = o.encoderLayers ?? 1;
  for (let i = 1; i <= layers; i++)
    h = g.node(`enc${i}`, new Bidirectional({ cell: 'lstm', units: o.units / 2, ...recurrent(o) }), { x: h, mask });
  return h;
}

function decoder(g: GraphBuilder, o: Seq2SeqOptions, tgtIn: Port, memory: Port, mask: Port): Port {
  let h = embedded(g, o, 'tgt', tgtIn);
  if (o.arch === 'transformer') {
    const config = { heads: o.heads, hidden: o.hidden, dropout: o.dropout };
    for (let i = 1; i <= o.decoderBlocks; i++)
      h = g.node(`dec${i}`, new TransformerDecoderBlock(config), { x: h, memory, mask });
    return g.node('head', new Dense({ units: o.tgtVocab }), g.node('dec_ln', new LayerNorm(), h));
  }
  const layers = o.decoderLayers ?? 1;
  for (let i = 1; i <= layers; i++) h = g.node(`dec${i}`, new LSTM({ units: o.units, ...recurrent(o) }), h);
  const context = g.node('attn', new Seq2SeqAttention({ score: o.score ?? 'general' }), { query: h, memory, mask });
  const joined = g.node('attn_concat', new Concat({ axis: -1 }), context, h);
  let attentional = g.node('attn_out', new Dense({ units: o.units, activation: 'tanh' }), joined);
  if (o.dropout) attentional = g.node('out_drop', new Dropout({ rate: o.dropout }), attentional);
  return g.node('head', new Dense({ units: o.tgtVocab }), attentional);
}

/** The LSTMs' variational recurrent dropout option, when set. */
function recurrent(o: Seq2SeqLstmOptions): { recurrentDropout?: number } {
  return o.recurrentDropout ? { recurrentDropout: o.recurrentDropout } : {};
}
