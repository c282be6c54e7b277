// LayerNorm over the last dim (torch.nn.LayerNorm(dim)): y = (x - mean) / √(var + eps) · weight + bias,
// the variance biased (divided by n), as PyTorch's.
// Parameters (torch's names and layouts): weight [dim] (ones), bias [dim] (zeros); none when
// `affine` is false. Port x [..., dim] -> y of the same shape.
import {
  Layer,
  type OnnxBuilder,
  type LayerSignature,
  type ParamSpec,
  type Tensor,
  type TensorSpec,
  add,
  div,
  expectPort,
  lastDim,
  mul,
  reduceMean,
  sqrt,
  sub,
} from '@ganglion/core';
import { onnxLayerNorm } from './attention-onnx.js';

export interface LayerNormConfig {
  /** Default 1e-5 (PyTorch's). */
  readonly eps?: number;
  /** Learn weight and bias (PyTorch's elementwise_affine). Default true. */
  readonly affine?: boolean;
}

/**
 * Normalize over the last dim, then scale and shift when weight/bias are given.
 *
 *   layerNorm(x, p.weight, p.bias, 1e-5)
 */
export function layerNorm(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps = 1e-5): Tensor {
  const centered = sub(x, reduceMean(x, -1, true));
  const variance = reduceMean(mul(centered, centered), -1, true);
  const normed = div(centered, sqrt(add(variance, eps)));
  const scaled = weight ? mul(normed, weight) : normed;
  return bias ? add(scaled, bias) : scaled;
}

/** LayerNorm's parameters for a feature size (shared with TransformerBlock). */
export function layerNormParams(dim: number, affine = true): ParamSpec[] {
  if (!affine) return [];
  return [
    { name: 'weight', shape: [dim], init: { kind: 'ones' } },
    { name: 'bias', shape: [dim], init: { kind: 'zeros' } },
  ];
}

export class LayerNorm extends Layer<LayerNormConfig> {
  static override readonly kind = 'LayerNorm';
  readonly inputs = [{ name: 'x' }];

  constructor(config: LayerNormConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: layerNormParams(lastDim('x', x), this.config.affine !== false),
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, { weight, bias }: Readonly<Record<string, Tensor>>): Tensor {
    return layerNorm(x, weight, bias, this.config.eps ?? 1e-5);
  }

  /** Native export: one ONNX LayerNormalization (opset 17) over the last axis. */
  lowerOnnx(
    b: OnnxBuilder,
    { x }: Readonly<Record<string, Tensor>>,
    { weight, bias }: Readonly<Record<string, Tensor>>,
  ): Tensor {
    return onnxLayerNorm(b, x, weight, bias, this.config.eps ?? 1e-5);
  }
}
