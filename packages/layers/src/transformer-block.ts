// TransformerBlock: a pre-norm block (GPT-2's, or with `norm: 'rms'` and `activation: 'swiglu'`
// Llama's decoder layer), composed from the functions of LayerNorm or RMSNorm,
// MultiHeadAttention and FeedForward (no maths of its own):
//   h = x + dropout(attention(norm1(x)))
//   y = h + feedForward(norm2(h))          (FeedForward applies the dropout to its output)
// Parameters: the sub-layers' own, prefixed (layouts as in layer-norm.ts, rms-norm.ts,
// multi-head-attention.ts and feed-forward.ts, i.e. PyTorch's):
//   ln1.weight, ln1.bias (no bias with norm 'rms'), attn.in_proj_weight, attn.in_proj_bias,
//   attn.out_proj_weight, attn.out_proj_bias (no attention biases with bias: false),
//   attn.lora_<t>_A / attn.lora_<t>_B (with lora), ln2.weight, ln2.bias (not with 'rms'),
//   ff.in_weight, ff.in_bias, ff.out_weight, ff.out_bias — or with 'swiglu' ff.gate_weight,
//   ff.up_weight, ff.down_weight.
// Ports: x [batch, time, dim]; optional mask [batch, time] (1 = keep, 0 = padding).
// Streaming: the attention's KV cache is this node's state, exactly as for MultiHeadAttention.
// Native ONNX export: LayerNormalization nodes (RMSNorm as its formula's ops), and the attention
// of multiHeadAttentionOnnx.
import {
  AttributeError,
  Layer,
  type ParamSpec,
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
import { type FeedForwardConfig, checkFeedForwardConfig, feedForward, feedForwardParams } from './feed-forward.js';
import { onnxLayerNorm } from './attention-onnx.js';
import { layerNorm, layerNormParams } from './layer-norm.js';
import { prefixParams, subParams } from './linear.js';
import { rmsNorm } from './rms-norm.js';
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
  /** The norms' eps (LayerNorm's or RMSNorm's). Default 1e-5. */
  readonly eps?: number;
  /** FeedForward activation. Default 'gelu'. */
  readonly activation?: FeedForwardConfig['activation'];
  /** 'layer' (LayerNorm, weight and bias; default) or 'rms' (RMSNorm, weight only). */
  readonly norm?: 'layer' | 'rms';
}

type Norm = (x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number) => Tensor;

const rms: Norm = (x, weight, _bias, eps) => rmsNorm(x, weight, eps);

export class TransformerBlock extends Layer<TransformerBlockConfig> {
  static override readonly kind = 'TransformerBlock';
  readonly inputs = [{ name: 'x' }, { name: 'mask', optional: true }];
  /** Its streaming state (the attention's cache) exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  constructor(config: TransformerBlockConfig) {
    super(config);
    checkAttentionOptions('TransformerBlock', config);
    checkFeedForwardConfig('TransformerBlock', config);
    if (config.norm !== undefined && config.norm !== 'layer' && config.norm !== 'rms')
      throw new AttributeError(`TransformerBlock: norm must be 'layer' or 'rms', got ${JSON.stringify(config.norm)}`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    const dim = lastDim('x', x);
    checkHeads(dim, this.config);
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [x.shape[0], x.shape[1]]);
    const norm: ParamSpec[] =
      this.config.norm === 'rms' ? [{ name: 'weight', shape: [dim], init: { kind: 'ones' } }] : layerNormParams(dim);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [
        ...prefixParams('ln1', norm),
        ...prefixParams('attn', attentionParams(dim, this.config)),
        ...prefixParams('ln2', norm),
        ...prefixParams('ff', feedForwardParams(dim, this.config)),
      ],
    };
  }

  forward(
    { x, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    return this.block(x, p, ctx, this.config.norm === 'rms' ? rms : layerNorm, (normed) =>
      multiHeadAttention(normed, subParams('attn', p), this.config, ctx, { mask, cache: ctx.state }),
    );
  }

  /**
   * Native export: LayerNorms as ONNX LayerNormalization (RMSNorms as their formula's ops),
   * attention with in-graph positions and masks.
   */
  lowerOnnx(
    b: OnnxBuilder,
    { x, mask }: Readonly<Record<string, Tensor>>,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult {
    const norm: Norm = this.config.norm === 'rms' ? rms : (t, w, bias, eps) => onnxLayerNorm(b, t, w, bias, eps);
    return this.block(x, p, ctx, norm, (normed) =>
      multiHeadAttentionOnnx(b, normed, subParams('attn', p), this.config, { mask, cache: ctx.state }),
    );
  }

  private block(
    x: Tensor,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
    norm: Norm,
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
