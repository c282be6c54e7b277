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

/** What a Transformer block has besides its attention: the feed-forward and the norms. */
export interface BlockConfig {
  /** FeedForward hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** The norms' eps (LayerNorm's or RMSNorm's). Default 1e-5. */
  readonly eps?: number;
  /** FeedForward activation. Default 'gelu'. */
  readonly activation?: FeedForwardConfig['activation'];
  /** 'layer' (LayerNorm, weight and bias; default) or 'rms' (RMSNorm, weight only). */
  readonly norm?: 'layer' | 'rms';
}

export interface TransformerBlockConfig extends AttentionOptions, BlockConfig {}

/** Throw AttributeError unless a block's attention, feed-forward and norm options are valid. */
export function checkBlockConfig(layer: string, config: BlockConfig & Pick<AttentionOptions, 'heads'>): void {
  checkAttentionOptions(layer, config);
  checkFeedForwardConfig(layer, config);
  if (config.norm !== undefined && config.norm !== 'layer' && config.norm !== 'rms')
    throw new AttributeError(`${layer}: norm must be 'layer' or 'rms', got ${JSON.stringify(config.norm)}`);
}

/** One norm's parameters: weight and bias (LayerNorm) or weight (RMSNorm). */
export function blockNormParams(config: BlockConfig, dim: number): ParamSpec[] {
  return config.norm === 'rms' ? [{ name: 'weight', shape: [dim], init: { kind: 'ones' } }] : layerNormParams(dim);
}

/** A block's norm (its parameters `<ln>.weight`, `<ln>.bias`) and its residual dropout. */
export interface BlockParts {
  readonly norm: (x: Tensor, ln: string) => Tensor;
  readonly drop: (x: Tensor) => Tensor;
}

/** The norm computed in the framework or (given `b`) lowered to ONNX, and the dropout at the config's rate. */
export function blockParts(
  config: BlockConfig & { readonly dropout?: number },
  p: Readonly<Record<string, Tensor>>,
  ctx: LayerContext,
  b?: OnnxBuilder,
): BlockParts {
  const eps = config.eps ?? 1e-5;
  const rate = config.dropout ?? 0;
  return {
    norm: (x, ln) =>
      config.norm === 'rms'
        ? rmsNorm(x, p[`${ln}.weight`], eps)
        : b
          ? onnxLayerNorm(b, x, p[`${ln}.weight`], p[`${ln}.bias`], eps)
          : layerNorm(x, p[`${ln}.weight`], p[`${ln}.bias`], eps),
    drop: (x) => dropout(x, rate, ctx),
  };
}

export class TransformerBlock extends Layer<TransformerBlockConfig> {
  static override readonly kind = 'TransformerBlock';
  readonly inputs = [{ name: 'x' }, { name: 'mask', optional: true }];
  /** Its streaming state (the attention's cache) exports as past_key_values.N / present.N. */
  readonly onnxState = 'kv-cache';

  constructor(config: TransformerBlockConfig) {
    super(config);
    checkBlockConfig('TransformerBlock', config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', [null, null, null]);
    const dim = lastDim('x', x);
    checkHeads(dim, this.config);
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [x.shape[0], x.shape[1]]);
    const norm = blockNormParams(this.config, dim);
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
    return this.block(x, p, ctx, undefined, (normed) =>
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
    return this.block(x, p, ctx, b, (normed) =>
      multiHeadAttentionOnnx(b, normed, subParams('attn', p), this.config, { mask, cache: ctx.state }),
    );
  }

  private block(
    x: Tensor,
    p: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
    b: OnnxBuilder | undefined,
    attention: (normed: Tensor) => { y: Tensor; cache?: { readonly key: Tensor; readonly value: Tensor } },
  ): LayerResult {
    const { norm, drop } = blockParts(this.config, p, ctx, b);
    const { y: attended, cache } = attention(norm(x, 'ln1'));
    const h = add(x, drop(attended));
    const y = add(h, feedForward(norm(h, 'ln2'), subParams('ff', p), this.config, ctx));
    return { outputs: { y }, state: { ...cache } };
  }
}
