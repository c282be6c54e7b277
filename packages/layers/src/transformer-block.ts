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
import { Layer, type LayerContext, type LayerResult, type LayerSignature, type Tensor, type TensorSpec, add, expectPort, lastDim } from '@ganglion/core';
import { dropout } from './attention.js';
import { checkFeedForwardConfig, feedForward, feedForwardParams } from './feed-forward.js';
import { layerNorm, layerNormParams } from './layer-norm.js';
import { prefixParams, subParams } from './linear.js';
import { type AttentionOptions, attentionParams, checkAttentionOptions, checkHeads, multiHeadAttention } from './multi-head-attention.js';

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

  forward({ x, mask }: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): LayerResult {
    const eps = this.config.eps ?? 1e-5;
    const rate = this.config.dropout ?? 0;
    const normed1 = layerNorm(x, p['ln1.weight'], p['ln1.bias'], eps);
    const { y: attended, cache } = multiHeadAttention(normed1, subParams('attn', p), this.config, ctx, { mask, cache: ctx.state });
    const h = add(x, dropout(attended, rate, ctx));
    const normed2 = layerNorm(h, p['ln2.weight'], p['ln2.bias'], eps);
    const y = add(h, feedForward(normed2, subParams('ff', p), this.config, ctx));
    return { outputs: { y }, state: { ...cache } };
  }
}
