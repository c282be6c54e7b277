// Model presets: a graph builder plus the training defaults that go with it.
import { type Graph, GraphBuilder } from '@ganglion/core';
import { Dense, Embedding, LSTM, LayerNorm, SoftmaxCrossEntropy, TiedHead, TransformerBlock } from '@ganglion/layers';

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

/**
 * Embedding -> stacked LSTMs -> Dense, with a SoftmaxCrossEntropy loss on next-token labels.
 *
 *   const graph = charLstm(64, [256, 256])(65); // the char-lstm preset on a 65-character vocabulary
 */
export function charLstm(embed: number, units: readonly number[]): (vocabSize: number) => Graph {
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    let h = g.node('embed', new Embedding({ vocabSize, dim: embed }), ids);
    units.forEach((u, i) => (h = g.node(`lstm${i + 1}`, new LSTM({ units: u }), h)));
    const logits = g.node('head', new Dense({ units: vocabSize }), h);
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    return g.build();
  };
}

/**
 * A small GPT: Embedding (its table tied to the output head) -> pre-norm TransformerBlocks (causal,
 * RoPE, sliding window = the training context, so generation past it keeps every attention
 * distance within what training saw and the KV cache bounded) -> LayerNorm -> TiedHead.
 */
function charGpt(o: { dim: number; heads: number; blocks: number; context: number }): (vocabSize: number) => Graph {
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    // Rows of norm ~1: the tied head's initial logits are ~N(0, 1) (LayerNorm output · row).
    const embed = g.node('embed', new Embedding({ vocabSize, dim: o.dim, outputWeight: true, init: { kind: 'normal', std: 1 / Math.sqrt(o.dim) } }), ids);
    let h = embed;
    for (let i = 1; i <= o.blocks; i++) h = g.node(`block${i}`, new TransformerBlock({ heads: o.heads, causal: true, rope: true, window: o.context }), h);
    const logits = g.node('head', new TiedHead(), { x: g.node('ln_f', new LayerNorm(), h), weight: embed.out('weight') });
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    return g.build();
  };
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
    description: 'GPT: tied Embedding 128 -> 4 TransformerBlocks (4 heads, RoPE, causal, context 128) -> LayerNorm -> tied head',
    seqLen: 128,
    batchSize: 8,
    lr: 2e-3,
    optimizer: 'adamw',
    clip: 'global-norm:1',
    build: charGpt({ dim: 128, heads: 4, blocks: 4, context: 128 }),
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);
