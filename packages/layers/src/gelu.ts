// GELU, elementwise: exact x·Φ(x) by default, or the tanh approximation.
import { Layer, type LayerSignature, type Tensor, type TensorSpec, gelu, geluTanh } from '@ganglion/core';
import { sameShapeSignature } from './elementwise.js';

export interface GELUConfig {
  /** 'none' (exact, erf-based; PyTorch's default) or 'tanh'. */
  readonly approximate?: 'none' | 'tanh';
}

export class GELU extends Layer<GELUConfig> {
  static override readonly kind = 'GELU';
  readonly inputs = [{ name: 'x' }];

  constructor(config: GELUConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return sameShapeSignature(inputs);
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return this.config.approximate === 'tanh' ? geluTanh(x) : gelu(x);
  }
}
