// TransformerDecoderBlock: a pre-norm encoder–decoder block (the decoder layer of "Attention Is All
// You Need", with the norms first as in torch.nn.TransformerDecoderLayer(norm_first=True)),
// composed from the functions of LayerNorm or RMSNorm, MultiHeadAttention and FeedForward:
//   h = x + dropout(selfAttention(norm1(x)))                 causal, KV-cached when streaming
//   g = h + dropout(crossAttention(norm2(h), memory, mask))  queries from h, keys/values from memory
//   y = g + feedForward(norm3(g))                           (FeedForward applies the dropout)
// Parameters (layouts as in layer-norm.ts, rms-norm.ts, multi-head-attention.ts, feed-forward.ts):
//   ln1.weight, ln1.bias, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj_weight,
//   attn.out_proj_bias (self-attention), ln2.weight, ln2.bias, cross.in_proj_weight,
//   cross.in_proj_bias, cross.out_proj_weight, cross.out_proj_bias (cross-attention), ln3.weight,
//   ln3.bias, ff.in_weight, ff.in_bias, ff.out_weight, ff.out_bias — no norm biases with norm 'rms',
//   no attention biases with bias: false, ff.gate_weight/up_weight/down_weight with 'swiglu'.
// Ports: x [batch, tgtTime, dim] (the target so far), memory [batch, srcTime, dim] (the encoder's
// output), optional mask [batch, srcTime] (the source padding mask: 1 = token, 0 = padding; it
// masks the cross-attention's keys). Output y [batch, tgtTime, dim].
// Streaming: the self-attention's KV cache { key, value, end } is this node's state, exactly as for
// TransformerBlock, so a decoder fed one token per wave (at its stream `position`) gives what the
// teacher-forced run gives at that position. The cross-attention has no cache: memory and mask are
// fed again with every wave (the encoder runs once; its output is an input of every wave).
// Native ONNX export: LayerNormalization nodes, the self-attention of multiHeadAttentionOnnx (its
// cache exports as past_key_values.N / present.N), the cross-attention traced from its forward.
import {
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type OnnxBuilder,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
} from '@ganglion/core';
import { feedForward, feedForwardParams } from './feed-forward.js';
import { prefixParams, subParams } from './linear.js';
import {
  type AttentionOptions,
  type KVCache,
  attentionParams,
  checkHeads,
  multiHeadAttention,
  multiHeadAttentionOnnx,
} from './multi-head-attention.js';
import { type BlockConfig, blockNormParams, blockParts, checkBlockConfig } from './transformer-block.js';

export interface TransformerDecoderBlockConfig
  extends
    Pick<AttentionOptions, 'heads' | 'kvHeads' | 'bias' | 'dropout' | 'rope' | 'ropeBase' | 'window'>,
    BlockConfig {}

export class TransformerDecoderBlock extends Layer<TransformerDecoderBlockConfig> {
  static override readonly kind = 'TransformerDecoderBlock';
  readonly inputs = [{ name: 'x' }, { name: 'memory' }, { name: 'mask', optional: true }];
  /** Its streaming state (the self-attention's cache) exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  /** new TransformerDecoderBlock({ heads: 4, hidden: 512 }): wire x, memory and the source mask. */
  constructor(config: TransformerDecoderBlockConfig) {
    super(config);
    checkBlockConfig('TransformerDecoderBlock', config);
  }

  /** The self-attention's options: causal, with the block's positions and window. */
  private get selfOptions(): AttentionOptions {
    return {
      ...this.crossOptions,
      causal: true,
      rope: this.config.rope,
      ropeBase: this.config.ropeBase,
      window: this.config.window,
    };
  }

  /** The cross-attention's options: no causality, positions or window (keys are the whole source). */
  private get crossOptions(): AttentionOptions {
    const { heads, kvHeads, bias, dropout } = this.config;
    return { heads, kvHeads, bias, dropout };
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    const dim = lastDim('x', x);
    checkHeads(dim, this.selfOptions);
    const memory = expectPort('memory', inputs.memory, 'float32', [x.shape[0], null, dim]);
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [x.shape[0], memory.shape[1]]);
    const norm = blockNormParams(this.config, dim);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [
        ...prefixParams('ln1', norm),
        ...prefixParams('attn', attentionParams(dim, this.selfOptions)),
        ...prefixParams('ln2', norm),
        ...prefixParams('cross', attentionParams(dim, this.crossOptions)),
        ...prefixParams('ln3', norm),
        ...prefixParams('ff', feedForwardParams(dim, this.config)),
      ],
    };
  }

  forward(
    { x, memory, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    return this.block(x, memory, mask, p, ctx, undefined, (normed) =>
      multiHeadAttention(normed, subParams('attn', p), this.selfOptions, ctx, { cache: ctx.state }),
    );
  }

  /** Native export: LayerNorms as ONNX LayerNormalization, self-attention with in-graph positions and masks. */
  lowerOnnx(
    b: OnnxBuilder,
    { x, memory, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    return this.block(x, memory, mask, p, ctx, b, (normed) =>
      multiHeadAttentionOnnx(b, normed, subParams('attn', p), this.selfOptions, { cache: ctx.state }),
    );
  }

  private block(
    x: Tensor,
    memory: Tensor,
    mask: Tensor | undefined,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
    b: OnnxBuilder | undefined,
    selfAttention: (normed: Tensor) => {
      y: Tensor;
      cache?: KVCache | { readonly key: Tensor; readonly value: Tensor };
    },
  ): LayerResult {
    const { norm, drop } = blockParts(this.config, p, ctx, b);
    const { y: attended, cache } = selfAttention(norm(x, 'ln1'));
    const h = add(x, drop(attended));
    const { y: crossed } = multiHeadAttention(norm(h, 'ln2'), subParams('cross', p), this.crossOptions, ctx, {
      kv: memory,
      mask,
    });
    const g = add(h, drop(crossed));
    const y = add(g, feedForward(norm(g, 'ln3'), subParams('ff', p), this.config, ctx));
    return { outputs: { y }, state: { ...cache } };
  }
}
