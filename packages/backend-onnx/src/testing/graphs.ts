// Test graphs shared by the export tests: every built-in layer alone (with symbolic batch and time
// dims) and the char-LSTM, plus deterministic feeds for any (batch, time); and a small GPT with
// its batches for the compiled-step tests.
import {
  type Backend,
  type DType,
  type Graph,
  GraphBuilder,
  type Layer,
  type Shape,
  type Tensor,
  tensor,
  uniformValues,
} from '@ganglion/core';
import {
  Add,
  Bidirectional,
  Concat,
  Dense,
  Dropout,
  Embedding,
  FeedForward,
  Flatten,
  GELU,
  GRU,
  LSTM,
  LayerNorm,
  Linear,
  MSE,
  MultiHeadAttention,
  PositionEmbedding,
  RMSNorm,
  ReLU,
  Reshape,
  RotaryEmbedding,
  Sigmoid,
  SinusoidalPositionEmbedding,
  Softmax,
  SoftmaxCrossEntropy,
  Tanh,
  TiedHead,
  TransformerBlock,
} from '@ganglion/layers';
import { Seq2SeqAttention, TransformerDecoderBlock } from '@ganglion/layers';

export interface InputDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype?: DType;
  /** int32 inputs: values in [0, ints). */
  readonly ints?: number;
  /** float inputs: values in [0, 1) (masks); default [-2, 2). */
  readonly unit?: boolean;
}

export interface GraphCase {
  readonly name: string;
  readonly inputs: readonly InputDecl[];
  readonly graph: Graph;
}

export const VOCAB = 12;

function single(
  name: string,
  layer: Layer,
  inputs: readonly InputDecl[],
  outputs: readonly string[] = ['y'],
): GraphCase {
  const g = new GraphBuilder();
  const ports = inputs.map((i) => g.input(i.name, i.shape, i.dtype ?? 'float32'));
  // By port name when the inputs are named after the layer's ports (optional ones skipped), else in order.
  const named = inputs.every((i) => layer.inputs.some((p) => p.name === i.name));
  const node = named
    ? g.node(name, layer, Object.fromEntries(inputs.map((i, k) => [i.name, ports[k]])))
    : g.node(name, layer, ...ports);
  for (const o of outputs) g.output(o, node.out(o));
  return { name, inputs, graph: g.build() };
}

const x = (features: number, name = 'x'): InputDecl => ({ name, shape: ['batch', 'time', features] });
const state = (name: string, units: number): InputDecl => ({ name, shape: ['batch', units] });
/** A padding mask with holes, and sequences with no valid step at all. */
const mask = (): InputDecl => ({ name: 'mask', shape: ['batch', 'time'], unit: true });

/** A LoRA adapter that acts from the start (B random, not PEFT's zeros), so its lowering shows. */
const adapter = { rank: 2, alpha: 4, init: 'random' } as const;

/** Every built-in layer, alone in a graph. */
export function layerCases(): GraphCase[] {
  return [
    single('dense', new Dense({ units: 5, activation: 'relu' }), [x(6)]),
    single('embedding', new Embedding({ vocabSize: VOCAB, dim: 4 }), [
      { name: 'ids', shape: ['batch', 'time'], dtype: 'int32', ints: VOCAB },
    ]),
    single('lstm', new LSTM({ units: 8 }), [x(6)], ['y', 'h', 'c']),
    single('lstm_h0c0', new LSTM({ units: 8 }), [x(6), state('h0', 8), state('c0', 8)], ['y', 'h', 'c']),
    single('gru', new GRU({ units: 7 }), [x(6)], ['y', 'h']),
    single('gru_h0', new GRU({ units: 7 }), [x(6), state('h0', 7)], ['y', 'h']),
    single('lstm_mask', new LSTM({ units: 8 }), [x(6), state('h0', 8), state('c0', 8), mask()], ['y', 'h', 'c']),
    single('gru_mask', new GRU({ units: 7, dropout: 0.3 }), [x(6), mask()], ['y', 'h']),
    single('bilstm_mask', new Bidirectional({ cell: 'lstm', units: 5 }), [x(6), mask()], ['y', 'h', 'c']),
    single('bigru_sum', new Bidirectional({ cell: 'gru', units: 5, merge: 'sum' }), [x(6)], ['y', 'h']),
    single('bigru_sum_mask', new Bidirectional({ cell: 'gru', units: 4, merge: 'sum' }), [x(6), mask()], ['y', 'h']),
    single('relu', new ReLU(), [x(6)]),
    single('tanh', new Tanh(), [x(6)]),
    single('sigmoid', new Sigmoid(), [x(6)]),
    single('gelu', new GELU(), [x(6)]),
    single('gelu_tanh', new GELU({ approximate: 'tanh' }), [x(6)]),
    single('softmax', new Softmax(), [x(6)]),
    single('dropout', new Dropout({ rate: 0.5 }), [x(6)]),
    single('add', new Add(), [x(6, 'a'), { name: 'b', shape: [6] }]),
    single('concat', new Concat({ axis: -1 }), [x(3, 'x0'), x(4, 'x1')]),
    single('reshape', new Reshape({ shape: ['batch', 'time', 2, 3] }), [x(6)]),
    single('flatten', new Flatten(), [x(6)]),
    single('softmax_cross_entropy', new SoftmaxCrossEntropy(), [
      x(5, 'logits'),
      { name: 'labels', shape: ['batch', 'time'], dtype: 'int32', ints: 5 },
    ]),
    single('softmax_cross_entropy_masked', new SoftmaxCrossEntropy(), [
      x(5, 'logits'),
      { name: 'labels', shape: ['batch', 'time'], dtype: 'int32', ints: 5 },
      { name: 'mask', shape: ['batch', 'time'], unit: true },
    ]),
    single('mse', new MSE(), [x(3, 'prediction'), x(3, 'target')]),
    single('layer_norm', new LayerNorm(), [x(6)]),
    single('layer_norm_plain', new LayerNorm({ affine: false, eps: 1e-3 }), [x(6)]),
    single('rms_norm', new RMSNorm(), [x(6)]),
    single('feed_forward', new FeedForward({ hidden: 10 }), [x(6)]),
    single('tied_head', new TiedHead({ bias: true }), [x(6), { name: 'weight', shape: [5, 6] }]),
    single('position_embedding', new PositionEmbedding({ maxLen: 16, dim: 6 }), [x(6)]),
    single('sinusoidal_position_embedding', new SinusoidalPositionEmbedding(), [x(6)]),
    single('rotary_embedding', new RotaryEmbedding({ heads: 2 }), [x(8)]),
    single('mha', new MultiHeadAttention({ dim: 8, heads: 2 }), [x(8)]),
    single('mha_causal_rope', new MultiHeadAttention({ dim: 8, heads: 2, causal: true, rope: true }), [x(8)]),
    single('mha_window', new MultiHeadAttention({ dim: 8, heads: 4, causal: true, window: 3 }), [x(8)]),
    single('mha_padding', new MultiHeadAttention({ dim: 8, heads: 2 }), [
      x(8),
      { name: 'mask', shape: ['batch', 'time'], unit: true },
    ]),
    single('mha_cross', new MultiHeadAttention({ dim: 8, heads: 2 }), [x(8), { name: 'kv', shape: ['batch', 4, 8] }]),
    single('transformer_block', new TransformerBlock({ heads: 2, causal: true, rope: true, window: 4 }), [x(8)]),
    single('feed_forward_swiglu', new FeedForward({ hidden: 10, activation: 'swiglu' }), [x(6)]),
    single('mha_gqa', new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 2, causal: true, rope: true }), [x(8)]),
    single(
      'mha_gqa_window_padding',
      new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 1, causal: true, window: 3 }),
      [x(8), { name: 'mask', shape: ['batch', 'time'], unit: true }],
    ),
    single('mha_gqa_cross', new MultiHeadAttention({ dim: 8, heads: 4, kvHeads: 2 }), [
      x(8),
      { name: 'kv', shape: ['batch', 4, 8] },
    ]),
    single(
      'mha_gqa_lora',
      new MultiHeadAttention({
        dim: 8,
        heads: 2,
        kvHeads: 1,
        causal: true,
        lora: { ...adapter, targets: ['q', 'k', 'v', 'o'] },
      }),
      [x(8)],
    ),
    single(
      'transformer_block_llama',
      new TransformerBlock({
        heads: 4,
        kvHeads: 2,
        causal: true,
        rope: true,
        ropeBase: 500,
        window: 4,
        norm: 'rms',
        eps: 1e-6,
        activation: 'swiglu',
        hidden: 12,
        bias: false,
      }),
      [x(8)],
    ),
    single(
      'transformer_block_lora',
      new TransformerBlock({ heads: 2, causal: true, lora: { ...adapter, dropout: 0.1, targets: ['q', 'v'] } }),
      [x(8)],
    ),
    single('lora_linear', new Linear({ units: 5, lora: adapter }), [x(6)]),
    single('lora_linear_plain', new Linear({ units: 5, bias: false }), [x(6)]),
    single('softmax_cross_entropy_ignore', new SoftmaxCrossEntropy({ ignoreIndex: 2 }), [
      x(5, 'logits'),
      { name: 'labels', shape: ['batch', 'time'], dtype: 'int32', ints: 5 },
    ]),
    single(
      'seq2seq_attention_dot',
      new Seq2SeqAttention({ score: 'dot', weights: true }),
      [x(6, 'query'), { name: 'memory', shape: ['batch', 5, 6] }, { name: 'mask', shape: ['batch', 5], unit: true }],
      ['y', 'weights'],
    ),
    single('seq2seq_attention_general', new Seq2SeqAttention({ score: 'general' }), [
      x(4, 'query'),
      x(6, 'memory'),
      { name: 'mask', shape: ['batch', 'time'], unit: true },
    ]),
    single('seq2seq_attention_additive', new Seq2SeqAttention({ score: 'additive', units: 5 }), [
      x(4, 'query'),
      { name: 'memory', shape: ['batch', 3, 6] },
    ]),
    single('transformer_decoder_block', new TransformerDecoderBlock({ heads: 2, hidden: 12 }), [
      x(8),
      x(8, 'memory'),
      { name: 'mask', shape: ['batch', 'time'], unit: true },
    ]),
    single(
      'transformer_decoder_block_rope_gqa',
      new TransformerDecoderBlock({ heads: 4, kvHeads: 2, rope: true, window: 3, norm: 'rms', activation: 'swiglu' }),
      [x(8), { name: 'memory', shape: ['batch', 4, 8] }],
    ),
  ];
}

/**
 * A small GPT: tied Embedding 16 -> 2 TransformerBlocks (2 heads, causal, RoPE, window 4) ->
 * LayerNorm -> TiedHead, the shape of the char-gpt preset.
 */
export function gptModel(opts: { window?: number; dim?: number } = {}): GraphCase {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const embed = g.node('embed', new Embedding({ vocabSize: VOCAB, dim: opts.dim ?? 16, outputWeight: true }), ids);
  let h = embed;
  for (let i = 1; i <= 2; i++)
    h = g.node(`block${i}`, new TransformerBlock({ heads: 2, causal: true, rope: true, window: opts.window }), h);
  g.output(
    'logits',
    g.node('head', new TiedHead(), { x: g.node('ln_f', new LayerNorm(), h), weight: embed.out('weight') }),
  );
  return {
    name: 'gpt',
    inputs: [{ name: 'ids', shape: ['batch', 'time'], dtype: 'int32', ints: VOCAB }],
    graph: g.build(),
  };
}

/** Embedding 16 -> LSTM 32 -> LSTM 32 -> Dense vocab (GRU instead of the LSTMs with `cell: GRU`). */
export function charModel(cell: 'lstm' | 'gru' = 'lstm', units = 32): GraphCase {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const rnn = () => (cell === 'lstm' ? new LSTM({ units }) : new GRU({ units }));
  const e = g.node('embed', new Embedding({ vocabSize: VOCAB, dim: 16 }), ids);
  const h1 = g.node(`${cell}1`, rnn(), e);
  const h2 = g.node(`${cell}2`, rnn(), h1);
  g.output('logits', g.node('head', new Dense({ units: VOCAB }), h2));
  return {
    name: `char-${cell}`,
    inputs: [{ name: 'ids', shape: ['batch', 'time'], dtype: 'int32', ints: VOCAB }],
    graph: g.build(),
  };
}

export interface FeedData {
  readonly data: Float64Array;
  readonly shape: number[];
  readonly dtype: DType;
}

/** Deterministic values for each input at a concrete (batch, time). */
export function feedData(
  inputs: readonly InputDecl[],
  batch: number,
  time: number,
  seed: number,
): Record<string, FeedData> {
  const out: Record<string, FeedData> = {};
  inputs.forEach((i, k) => {
    const shape = i.shape.map((d) => (d === 'batch' ? batch : d === 'time' ? time : (d as number)));
    const n = shape.reduce((a, b) => a * b, 1);
    const u = uniformValues(seed * 101 + k, n);
    const dtype = i.dtype ?? 'float32';
    // Masks keep their first position, so a masked mean never divides by zero.
    const data =
      dtype === 'int32'
        ? u.map((v) => Math.floor(v * (i.ints ?? 2)))
        : i.unit
          ? u.map((v, j) => (j > 0 && v < 0.3 ? 0 : 1))
          : u.map((v) => Math.fround(4 * v - 2));
    out[i.name] = { data, shape, dtype };
  });
  return out;
}

export function toTensors(feeds: Record<string, FeedData>, backend: Backend): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, tensor(f.data, f.shape, f.dtype, backend)]));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Vocabulary of trainGpt and trainBatches. */
export const TRAIN_VOCAB = 11;

/**
 * A small GPT to train (vocabulary TRAIN_VOCAB, width 16, `blocks` causal blocks, context 8). Its attention has no biases: the key bias's gradient is zero up to rounding
 * (softmax ignores a constant added to every score), and Adam turns that rounding noise into
 * steps of about lr whose sign depends on the order of float additions in each graph.
 */
export function trainGpt(blocks = 2): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const embed = g.node('embed', new Embedding({ vocabSize: TRAIN_VOCAB, dim: 16, outputWeight: true }), ids);
  let h = g.node('pos', new PositionEmbedding({ maxLen: 8, dim: 16 }), embed);
  for (let i = 1; i <= blocks; i++)
    h = g.node(`block${i}`, new TransformerBlock({ heads: 2, causal: true, bias: false }), h);
  const logits = g.node('head', new TiedHead(), { x: g.node('ln_f', new LayerNorm(), h), weight: embed.out('weight') });
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

/** Deterministic batches of [4, 8] token ids and next-token labels. */
export function trainBatches(n: number, rows = 4) {
  return Array.from({ length: n }, (_, k) => {
    const ids = Int32Array.from({ length: rows * 8 }, (_, i) => (i * 7 + k * 3 + ((i * i) % 5)) % TRAIN_VOCAB);
    const labels = Int32Array.from(ids, (_, i) => ids[(i + 1) % ids.length]);
    return { ids: { data: ids, shape: [rows, 8] }, labels: { data: labels, shape: [rows, 8] } };
  });
}
