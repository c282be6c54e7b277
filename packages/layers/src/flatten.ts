// Flatten: merge every axis from `startAxis` (default 1) on into one.
import {
  Layer,
  type LayerSignature,
  type Tensor,
  type TensorSpec,
  expectPort,
  flatten,
  mulDims,
  normalizeAxis,
} from '@ganglion/core';

export interface FlattenConfig {
  readonly startAxis?: number;
}

export class Flatten extends Layer<FlattenConfig> {
  static override readonly kind = 'Flatten';
  readonly inputs = [{ name: 'x' }];

  constructor(config: FlattenConfig = {}) {
    super(config);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, ['float32', 'int32']);
    const ax = normalizeAxis('Flatten', this.config.startAxis ?? 1, x.shape.length);
    const rest = x.shape.slice(ax).reduce((a, d) => mulDims(a, d), 1 as number | string);
    return { outputs: [{ name: 'y', dtype: x.dtype, shape: [...x.shape.slice(0, ax), rest] }], params: [] };
  }

  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return flatten(x, this.config.startAxis ?? 1);
  }
}
