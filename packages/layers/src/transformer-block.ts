// TransformerBlock: a pre-norm (GPT-2 style) block, composed from the functions of LayerNorm,
// MultiHeadAttention and FeedForward (no maths of its own):
//   h = x + dropout(attention(layerNorm1(x)))
//   y = h + feedForward(layerNorm2(h))          (FeedForward applies the dropout to its output)
// Parameters: the sub-layers' own, prefixed — ln1.weight, ln1.bias, attn.in_proj_weight,
// attn.in_proj_bias, attn.out_proj_weight, attn.out_proj_bias, ln2.weight, ln2.bias,
// ff.in_weight, ff.in_bias, ff.out_weight, ff.out_bias (layouts as in layer-norm.ts,
// multi-head-attention.ts and feed-forward.ts, i.e. PyTorch's).
// Ports: x [batch, time, dim]; optional mask [batch, time] (1 = keep, 0 = padding).
// Streaming: the attention's KV cache is this node's state, exactly as for MultiHeadAttention.
// Native ONNX export: LayerNormalization nodes, and the attention of multiHeadAttentionOnnx.
import {
  Layer,
  type LayerContext,
  type OnnxBuilder,
  type LayerResult,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  lastDim,
} from '@ganglion/core';
import { dropout } from './attention.js';
import { checkFeedForwardConfig, feedForward, feedForwardParams } from './feed-forward.js';
import { onnxLayerNorm } from './attention-onnx.js';
import { layerNorm, layerNormParams } from './layer-norm.js';
import { prefixParams, subParams } from './linear.js';
import {
  type AttentionOptions,
  attentionParams,
  checkAttentionOptions,
  checkHeads,
  multiHeadAttention,
  multiHeadAttentionOnnx,
} from './multi-head-attention.js';

export interface TransformerBlockConfig extends AttentionOptions {
  /** FeedForward hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** LayerNorm eps. Default 1e-5. */
  readonly eps?: number;
  /** FeedForward activation. Default 'gelu'. */
  readonly activation?: 'gelu' | 'gelu-tanh';
}

export class TransformerBlock extends Layer<TransformerBlockConfig> {
  static override readonly kind = 'TransformerBlock';
  readonly inputs = [{ name: 'x' }, { name: 'mask', optional: true }];
  /** Its streaming state (the attention's cache) exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  constructor(config: TransformerBlockConfig) {
    super(config);
    checkAttentionOptions('TransformerBlock', config);
    checkFeedForwardConfig('TransformerBlock', config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    const dim = lastDim('x', x);
    checkHeads(dim, this.config);
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [x.shape[0], x.shape[1]]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [
        ...prefixParams('ln1', layerNormParams(dim)),
        ...prefixParams('attn', attentionParams(dim, this.config.bias !== false)),
        ...prefixParams('ln2', layerNormParams(dim)),
        ...prefixParams('ff', feedForwardParams(dim, this.config.hidden)),
      ],
    };
  }

  forward(
    { x, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    return this.block(x, p, ctx, layerNorm, (normed) =>
      multiHeadAttention(normed, subParams('attn', p), this.config, ctx, { mask, cache: ctx.state }),
    );
  }

  /** Native export: LayerNorms as ONNX LayerNormalization, attention with in-graph positions and masks. */
  lowerOnnx(
    b: OnnxBuilder,
    { x, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const norm = (t: Tensor, w: Tensor | undefined, bias: Tensor | undefined, eps: number) =>
      onnxLayerNorm(b, t, w, bias, eps);
    return this.block(x, p, ctx, norm, (normed) =>
      multiHeadAttentionOnnx(b, normed, subParams('attn', p), this.config, { mask, cache: ctx.state }),
    );
  }

  private block(
    x: Tensor,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
    norm: (x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number) => Tensor,
    attention: (normed: Tensor) => { y: Tensor; cache?: { readonly key: Tensor; readonly value: Tensor } },
  ): LayerResult {
    const eps = this.config.eps ?? 1e-5;
    const rate = this.config.dropout ?? 0;
    const { y: attended, cache } = attention(norm(x, p['ln1.weight'], p['ln1.bias'], eps));
    const h = add(x, dropout(attended, rate, ctx));
    const y = add(h, feedForward(norm(h, p['ln2.weight'], p['ln2.bias'], eps), subParams('ff', p), this.config, ctx));
    return { outputs: { y }, state: { ...cache } };
  }
}
