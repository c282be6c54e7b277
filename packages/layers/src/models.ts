// Ready-made model graphs built from the layers here: the char-LSTM and a GPT, each a function
// from the vocabulary size to a Graph with inputs `ids`, `labels` [batch, time] and outputs
// `logits`, `loss`. The CLI's presets and the benchmark's workloads both build their models here,
// and the Hugging Face importer builds GPT-2 and Llama-family models with `gpt`'s options.
import { type Graph, GraphBuilder } from '@ganglion/core';
import { Dense } from './dense.js';
import { Embedding } from './embedding.js';
import { LayerNorm } from './layer-norm.js';
import { type AttentionLora, Linear } from './lora.js';
import { LSTM } from './lstm.js';
import { PositionEmbedding } from './position-embedding.js';
import { RMSNorm } from './rms-norm.js';
import { SoftmaxCrossEntropy } from './softmax-cross-entropy.js';
import { TiedHead } from './tied-head.js';
import { TransformerBlock, type TransformerBlockConfig } from './transformer-block.js';

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
  /** Query heads; the head size is dim / heads. */
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
  /** RoPE's base (Llama's rope_theta). Default 10000. */
  readonly ropeBase?: number;
  /** Key/value heads (grouped-query attention, Llama's num_key_value_heads). Default `heads`. */
  readonly kvHeads?: number;
  /** 'layer' (LayerNorm; default) or 'rms' (RMSNorm) in the blocks and as ln_f. */
  readonly norm?: 'layer' | 'rms';
  /** The norms' eps. Default 1e-5. */
  readonly eps?: number;
  /** The blocks' FeedForward: 'gelu' (default), 'gelu-tanh' (GPT-2) or 'swiglu' (Llama). */
  readonly activation?: 'gelu' | 'gelu-tanh' | 'swiglu';
  /** FeedForward hidden width (Llama's intermediate_size). Default 4 · dim. */
  readonly hidden?: number;
  /** Biases on the attention projections. Default true. */
  readonly bias?: boolean;
  /**
   * The output head reuses the embedding table (GPT-2, tie_word_embeddings). Default true. When
   * false the head is a Linear without bias or adapter: its own weight `head.weight` [vocab,
   * dim] in torch layout (Llama's lm_head.weight).
   */
  readonly tied?: boolean;
  /** LoRA adapters on every block's attention (lora.ts). Default none. */
  readonly lora?: AttentionLora;
}

/**
 * A GPT: Embedding [+ PositionEmbedding] -> pre-norm causal TransformerBlocks -> a final norm
 * `ln_f` -> an output head, with a SoftmaxCrossEntropy loss. The defaults give the original preset:
 * LayerNorm eps 1e-5, biased projections, exact GELU, hidden 4·dim, head tied to the embedding —
 * vocab·dim + (learned: context·dim) + blocks·(12·dim² + 13·dim) + 2·dim parameters.
 * Nodes: embed, pos (learned only), block1 .. blockN, ln_f, head, loss. Parameter keys (what an
 * importer maps checkpoints onto; layouts as torch.nn's, [out, in] for weights):
 *
 *   GPT-2 (position 'learned', activation 'gelu-tanh', eps from the config):
 *     embed.weight [vocab, dim]   pos.weight [context, dim]
 *     blockN.ln1.weight, blockN.ln1.bias, blockN.ln2.weight, blockN.ln2.bias     [dim]
 *     blockN.attn.in_proj_weight [3·dim, dim] (rows q, k, v), blockN.attn.in_proj_bias [3·dim]
 *     blockN.attn.out_proj_weight [dim, dim], blockN.attn.out_proj_bias [dim]
 *     blockN.ff.in_weight [hidden, dim], blockN.ff.in_bias [hidden]
 *     blockN.ff.out_weight [dim, hidden], blockN.ff.out_bias [dim]
 *     ln_f.weight, ln_f.bias [dim]; the head is tied to embed.weight (no parameter)
 *   Llama (position 'rope', ropeBase, norm 'rms', activation 'swiglu', hidden, kvHeads, bias false):
 *     embed.weight [vocab, dim]
 *     blockN.ln1.weight, blockN.ln2.weight [dim]
 *     blockN.attn.in_proj_weight [(heads + 2·kvHeads)·headDim, dim] (rows q, then k, then v)
 *     blockN.attn.out_proj_weight [dim, dim]     (with bias: in_proj_bias, out_proj_bias too)
 *     blockN.ff.gate_weight [hidden, dim], blockN.ff.up_weight [hidden, dim],
 *     blockN.ff.down_weight [dim, hidden]
 *     ln_f.weight [dim]; with tied: false also head.weight [vocab, dim]
 *   With lora: blockN.attn.lora_<t>_A [rank, dim] and blockN.attn.lora_<t>_B [rows of t, rank]
 *   for each target t.
 *
 *   const graph = gpt({ dim: 128, heads: 4, blocks: 4, context: 128, position: 'learned' })(89);
 */
export function gpt(o: GptOptions): (vocabSize: number) => Graph {
  const rope = o.position === 'rope';
  const window = o.window ?? (rope ? o.context : undefined);
  const rms = o.norm === 'rms';
  const eps = o.eps ?? 1e-5;
  const block: TransformerBlockConfig = {
    heads: o.heads,
    causal: true,
    ...(rope ? { rope: true, ...(o.ropeBase === undefined ? {} : { ropeBase: o.ropeBase }) } : {}),
    ...(window === undefined ? {} : { window }),
    ...(o.kvHeads === undefined ? {} : { kvHeads: o.kvHeads }),
    ...(rms ? { norm: 'rms' } : {}),
    ...(o.eps === undefined ? {} : { eps }),
    ...(o.activation === undefined ? {} : { activation: o.activation }),
    ...(o.hidden === undefined ? {} : { hidden: o.hidden }),
    ...(o.bias === undefined ? {} : { bias: o.bias }),
    ...(o.lora === undefined ? {} : { lora: o.lora }),
  };
  const tied = o.tied !== false;
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    // Rows of norm ~1: the tied head's initial logits are ~N(0, 1) (LayerNorm output · row).
    const embed = g.node(
      'embed',
      new Embedding({
        vocabSize,
        dim: o.dim,
        ...(tied ? { outputWeight: true } : {}),
        init: { kind: 'normal', std: 1 / Math.sqrt(o.dim) },
      }),
      ids,
    );
    let h = rope ? embed : g.node('pos', new PositionEmbedding({ maxLen: o.context, dim: o.dim }), embed);
    for (let i = 1; i <= o.blocks; i++) h = g.node(`block${i}`, new TransformerBlock(block), h);
    const normed = g.node('ln_f', rms ? new RMSNorm({ eps }) : new LayerNorm(o.eps === undefined ? {} : { eps }), h);
    const logits = tied
      ? g.node('head', new TiedHead(), { x: normed, weight: embed.out('weight') })
      : g.node('head', new Linear({ units: vocabSize, bias: false }), normed);
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    return g.build();
  };
}
