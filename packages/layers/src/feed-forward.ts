// FeedForward: the transformer's position-wise MLP, y = dropout(W2 · gelu(W1 x + b1) + b2).
// Parameters in torch.nn.Linear's layout (the linear1/linear2 of torch.nn.TransformerEncoderLayer):
//   in_weight [hidden, dim], in_bias [hidden], out_weight [dim, hidden], out_bias [dim];
// initialized as torch.nn.Linear: U(±1/√fan_in) weights, zero biases.
// With `activation: 'swiglu'` it is Llama's gated MLP instead, y = dropout(Wd (silu(Wg x) ⊙ Wu x)),
// no biases: gate_weight [hidden, dim], up_weight [hidden, dim], down_weight [dim, hidden]
// (Hugging Face's gate_proj, up_proj, down_proj, same layout and init).
// Port x [..., dim] -> y [..., dim]. `hidden` defaults to 4·dim.
import {
  AttributeError,
  Layer,
  type LayerContext,
  type LayerSignature,
  type ParamSpec,
  type Tensor,
  type TensorSpec,
  expectPort,
  gelu,
  geluTanh,
  lastDim,
  mul,
  silu,
} from '@ganglion/core';
import { dropout } from './attention.js';
import { linear, linearInit } from './linear.js';

export interface FeedForwardConfig {
  /** Hidden width. Default 4 · dim. */
  readonly hidden?: number;
  /** 'gelu' (exact, default), 'gelu-tanh' (GPT-2's approximation) or 'swiglu' (Llama's gated MLP). */
  readonly activation?: 'gelu' | 'gelu-tanh' | 'swiglu';
  /** Dropout rate on the output, in training. Default 0. */
  readonly dropout?: number;
}

/** FeedForward's parameters (shared with TransformerBlock). */
export function feedForwardParams(dim: number, c: FeedForwardConfig): ParamSpec[] {
  const hidden = c.hidden ?? 4 * dim;
  if (c.activation === 'swiglu')
    return [
      { name: 'gate_weight', shape: [hidden, dim], init: linearInit(dim) },
      { name: 'up_weight', shape: [hidden, dim], init: linearInit(dim) },
      { name: 'down_weight', shape: [dim, hidden], init: linearInit(hidden) },
    ];
  return [
    { name: 'in_weight', shape: [hidden, dim], init: linearInit(dim) },
    { name: 'in_bias', shape: [hidden], init: { kind: 'zeros' } },
    { name: 'out_weight', shape: [dim, hidden], init: linearInit(hidden) },
    { name: 'out_bias', shape: [dim], init: { kind: 'zeros' } },
  ];
}

/** linear -> GELU -> linear -> dropout (or the SwiGLU MLP), with FeedForward's parameters. */
export function feedForward(
  x: Tensor,
  p: Readonly<Record<string, Tensor>>,
  config: FeedForwardConfig,
  ctx: LayerContext,
): Tensor {
  let y: Tensor;
  if (config.activation === 'swiglu') {
    y = linear(mul(silu(linear(x, p.gate_weight)), linear(x, p.up_weight)), p.down_weight);
  } else {
    const h = linear(x, p.in_weight, p.in_bias);
    y = linear(config.activation === 'gelu-tanh' ? geluTanh(h) : gelu(h), p.out_weight, p.out_bias);
  }
  return dropout(y, config.dropout ?? 0, ctx);
}

export function checkFeedForwardConfig(who: string, c: FeedForwardConfig): void {
  if (c.hidden !== undefined && !(Number.isInteger(c.hidden) && c.hidden >= 1))
    throw new AttributeError(`${who}: hidden must be a positive integer, got ${c.hidden}`);
  if (c.dropout !== undefined && !(c.dropout >= 0 && c.dropout < 1))
    throw new AttributeError(`${who}: dropout must be in [0, 1), got ${c.dropout}`);
  const activations = ['gelu', 'gelu-tanh', 'swiglu'];
  if (c.activation !== undefined && !activations.includes(c.activation))
    throw new AttributeError(
      `${who}: activation must be one of ${activations.join(', ')}, got ${JSON.stringify(c.activation)}`,
    );
}

export class FeedForward extends Layer<FeedForwardConfig> {
  static override readonly kind = 'FeedForward';
  readonly inputs = [{ name: 'x' }];

  constructor(config: FeedForwardConfig = {}) {
    super(config);
    checkFeedForwardConfig('FeedForward', config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: feedForwardParams(lastDim('x', x), this.config),
    };
  }

  forward(
    { x }: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): Tensor {
    return feedForward(x, params, this.config, ctx);
  }
}
