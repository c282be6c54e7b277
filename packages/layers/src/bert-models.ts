// A BERT-style masked-language-model encoder as a graph: token + learned position embeddings,
// bidirectional pre-norm TransformerBlocks, a final LayerNorm, and BERT's MLM head (a transform —
// Dense, GELU, LayerNorm — then the decoder tied to the token embedding, with its own bias).
// Inputs `ids` and `labels` [batch, time]; `labels` holds the original token at the positions
// chosen for prediction and MLM_IGNORE (-1) everywhere else, so the loss is the mean cross-entropy
// over the chosen positions only (mlmDataset in @ganglion/core makes such batches). Outputs
// `logits` [batch, time, vocab] and `loss`.
// Pre-norm rather than BERT's post-norm: the blocks are the GPT's (transformer-block.ts) with
// causal off, which train stably without warm-up; there is no segment (token type) embedding, as
// in RoBERTa, since pretraining here has no next-sentence task.
import { type Graph, GraphBuilder, MLM_IGNORE } from '@ganglion/core';
import { Dense } from './dense.js';
import { Embedding } from './embedding.js';
import { GELU } from './gelu.js';
import { LayerNorm } from './layer-norm.js';
import { PositionEmbedding } from './position-embedding.js';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.js';
import { TiedHead } from './tied-head.js';
import { TransformerBlock, type TransformerBlockConfig } from './transformer-block.js';

export interface BertOptions {
  /** Model width (embedding size). */
  readonly dim: number;
  /** Attention heads; the head size is dim / heads. */
  readonly heads: number;
  /** Number of TransformerBlocks. */
  readonly blocks: number;
  /** Rows of the position table: the longest sequence the model reads, [CLS] and [SEP] included. */
  readonly context: number;
  /** FeedForward hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** Dropout in the blocks (attention weights, residual branches) while training. Default 0. */
  readonly dropout?: number;
  /** The norms' eps. Default 1e-5 (BERT's is 1e-12). */
  readonly eps?: number;
}

/**
 * A BERT encoder with its masked-LM head. Nodes: embed, pos, block1 .. blockN, ln_f, mlm_dense,
 * mlm_act, mlm_norm, head, loss. Parameters (torch layouts, [out, in] for the blocks' weights):
 *   embed.weight [vocab, dim] (also the decoder's weight), pos.weight [context, dim],
 *   blockN.* as in transformer-block.ts, ln_f.weight/bias [dim],
 *   mlm_dense.kernel [dim, dim], mlm_dense.bias [dim], mlm_norm.weight/bias [dim], head.bias [vocab]
 * — vocab·(dim + 1) + context·dim + blocks·(12·dim² + 13·dim) + dim² + 5·dim parameters with the
 * default hidden width.
 *
 *   const graph = bert({ dim: 128, heads: 4, blocks: 4, context: 128 })(4100);
 */
export function bert(o: BertOptions): (vocabSize: number) => Graph {
  const norm = () => new LayerNorm(o.eps === undefined ? {} : { eps: o.eps });
  const block: TransformerBlockConfig = {
    heads: o.heads,
    causal: false,
    ...(o.hidden === undefined ? {} : { hidden: o.hidden }),
    ...(o.dropout ? { dropout: o.dropout } : {}),
    ...(o.eps === undefined ? {} : { eps: o.eps }),
  };
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    // Rows of norm ~1, as the GPT's: the tied decoder's initial logits are ~N(0, 1).
    const embed = g.node(
      'embed',
      new Embedding({ vocabSize, dim: o.dim, outputWeight: true, init: { kind: 'normal', std: 1 / Math.sqrt(o.dim) } }),
      ids,
    );
    let h = g.node('pos', new PositionEmbedding({ maxLen: o.context, dim: o.dim }), embed);
    for (let i = 1; i <= o.blocks; i++) h = g.node(`block${i}`, new TransformerBlock(block), h);
    h = g.node('ln_f', norm(), h);
    // BERT's BertPredictionHeadTransform, then the tied decoder with a bias per token.
    h = g.node('mlm_dense', new Dense({ units: o.dim }), h);
    h = g.node('mlm_act', new GELU(), h);
    h = g.node('mlm_norm', norm(), h);
    const logits = g.node('head', new TiedHead({ bias: true }), { x: h, weight: embed.out('weight') });
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy({ ignoreIndex: MLM_IGNORE }), { logits, labels }));
    return g.build();
  };
}
