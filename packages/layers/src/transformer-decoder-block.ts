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
  AttributeError,
  Layer,
  type LayerContext,
  type LayerResult,
  type LayerSignature,
  type OnnxBuilder,
  type ParamSpec,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
} from '@ganglion/core';
import { dropout } from './attention.js';
import { onnxLayerNorm } from './attention-onnx.js';
import { type FeedForwardConfig, checkFeedForwardConfig, feedForward, feedForwardParams } from './feed-forward.js';
import { layerNorm, layerNormParams } from './layer-norm.js';
import { prefixParams, subParams } from './linear.js';
import {
  type AttentionOptions,
  type KVCache,
  attentionParams,
  checkAttentionOptions,
  checkHeads,
  multiHeadAttention,
  multiHeadAttentionOnnx,
} from './multi-head-attention.js';
import { rmsNorm } from './rms-norm.js';

export interface TransformerDecoderBlockConfig extends Pick<
  AttentionOptions,
  'heads' | 'kvHeads' | 'bias' | 'dropout' | 'rope' | 'ropeBase' | 'window'
> {
  /** FeedForward hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** The norms' eps. Default 1e-5. */
  readonly eps?: number;
  /** FeedForward activation. Default 'gelu'. */
  readonly activation?: FeedForwardConfig['activation'];
  /** 'layer' (LayerNorm, weight and bias; default) or 'rms' (RMSNorm, weight only). */
  readonly norm?: 'layer' | 'rms';
}

type Norm = (x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number) => Tensor;

const rms: Norm = (x, weight, _bias, eps) => rmsNorm(x, weight, eps);

export class TransformerDecoderBlock extends Layer<TransformerDecoderBlockConfig> {
  static override readonly kind = 'TransformerDecoderBlock';
  readonly inputs = [{ name: 'x' }, { name: 'memory' }, { name: 'mask', optional: true }];
  /** Its streaming state (the self-attention's cache) exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  /** new TransformerDecoderBlock({ heads: 4, hidden: 512 }): wire x, memory and the source mask. */
  constructor(config: TransformerDecoderBlockConfig) {
    super(config);
    checkAttentionOptions('TransformerDecoderBlock', config);
    checkFeedForwardConfig('TransformerDecoderBlock', config);
    if (config.norm !== undefined && config.norm !== 'layer' && config.norm !== 'rms')
      throw new AttributeError(
        `TransformerDecoderBlock: norm must be 'layer' or 'rms', got ${JSON.stringify(config.norm)}`,
      );
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
    const norm: ParamSpec[] =
      this.config.norm === 'rms' ? [{ name: 'weight', shape: [dim], init: { kind: 'ones' } }] : layerNormParams(dim);
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
    return this.block(x, memory, mask, p, ctx, this.config.norm === 'rms' ? rms : layerNorm, (normed) =>
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
    const norm: Norm = this.config.norm === 'rms' ? rms : (t, w, bias, eps) => onnxLayerNorm(b, t, w, bias, eps);
    return this.block(x, memory, mask, p, ctx, norm, (normed) =>
      multiHeadAttentionOnnx(b, normed, subParams('attn', p), this.selfOptions, { cache: ctx.state }),
    );
  }

  private block(
    x: Tensor,
    memory: Tensor,
    mask: Tensor | undefined,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
    norm: Norm,
    selfAttention: (normed: Tensor) => {
      y: Tensor;
      cache?: KVCache | { readonly key: Tensor; readonly value: Tensor };
    },
  ): LayerResult {
    const eps = this.config.eps ?? 1e-5;
    const rate = this.config.dropout ?? 0;
    const { y: attended, cache } = selfAttention(norm(x, p['ln1.weight'], p['ln1.bias'], eps));
    const h = add(x, dropout(attended, rate, ctx));
    const { y: crossed } = multiHeadAttention(
      norm(h, p['ln2.weight'], p['ln2.bias'], eps),
      subParams('cross', p),
      this.crossOptions,
      ctx,
      { kv: memory, mask },
    );
    const g = add(h, dropout(crossed, rate, ctx));
    const y = add(g, feedForward(norm(g, p['ln3.weight'], p['ln3.bias'], eps), subParams('ff', p), this.config, ctx));
    return { outputs: { y }, state: { ...cache } };
  }
}
