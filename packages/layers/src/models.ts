// Ready-made model graphs built from the layers here: the char-LSTM and a GPT, each a function
// from the vocabulary size to a Graph with inputs `ids`, `labels` [batch, time] and outputs
// `logits`, `loss`. The CLI's presets and the benchmark's workloads both build their models here.
import { type Graph, GraphBuilder } from '@ganglion/core';
import { Dense } from './dense.js';
import { Embedding } from './embedding.js';
import { LayerNorm } from './layer-norm.js';
import { LSTM } from './lstm.js';
import { PositionEmbedding } from './position-embedding.js';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.js';
import { TiedHead } from './tied-head.js';
import { TransformerBlock } from './transformer-block.js';

/**
 * Embedding -> stacked LSTMs -> Dense, with a SoftmaxCrossEntropy loss on next-token labels.
 *
 *   const graph = charLstm(64, [256, 256])(65); // Embedding 64, two LSTMs of 256, 65 characters
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

export interface GptOptions {
  /** Model width (embedding size). */
  readonly dim: number;
  readonly heads: number;
  /** Number of TransformerBlocks. */
  readonly blocks: number;
  /** Training context: the sequence length the model is built for. */
  readonly context: number;
  /**
   * 'rope': rotary embeddings in every block's attention, no position table. 'learned': a
   * PositionEmbedding [context, dim] added to the token embeddings (GPT-2's wpe), so sequences
   * are at most `context` long.
   */
  readonly position: 'rope' | 'learned';
  /**
   * Sliding-window attention (keys > i - window). Default: `context` with rope, so generation
   * past the context keeps every attention distance within what training saw and the KV cache
   * bounded; none with learned positions, which cannot go past the context anyway.
   */
  readonly window?: number;
}

/**
 * A GPT: Embedding (its table tied to the output head) [+ PositionEmbedding] -> pre-norm causal
 * TransformerBlocks (LayerNorm eps 1e-5, biased projections, exact GELU, hidden 4·dim) ->
 * LayerNorm -> TiedHead (no bias), with a SoftmaxCrossEntropy loss. Its parameter count is
 * vocab·dim + (learned: context·dim) + blocks·(12·dim² + 13·dim) + 2·dim.
 *
 *   const graph = gpt({ dim: 128, heads: 4, blocks: 4, context: 128, position: 'learned' })(89);
 */
export function gpt(o: GptOptions): (vocabSize: number) => Graph {
  const rope = o.position === 'rope';
  const window = o.window ?? (rope ? o.context : undefined);
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    // Rows of norm ~1: the tied head's initial logits are ~N(0, 1) (LayerNorm output · row).
    const embed = g.node(
      'embed',
      new Embedding({ vocabSize, dim: o.dim, outputWeight: true, init: { kind: 'normal', std: 1 / Math.sqrt(o.dim) } }),
      ids,
    );
    let h = rope ? embed : g.node('pos', new PositionEmbedding({ maxLen: o.context, dim: o.dim }), embed);
    const attention = {
      heads: o.heads,
      causal: true,
      ...(rope ? { rope: true } : {}),
      ...(window === undefined ? {} : { window }),
    };
    for (let i = 1; i <= o.blocks; i++) h = g.node(`block${i}`, new TransformerBlock(attention), h);
    const logits = g.node('head', new TiedHead(), {
      x: g.node('ln_f', new LayerNorm(), h),
      weight: embed.out('weight'),
    });
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    return g.build();
  };
}
