// Concat: join `count` inputs (ports x0, x1, ...) along an axis.
import { Layer, type LayerSignature, type Tensor, type TensorSpec, concatPrimitive, expectPort } from '@ganglion/core';
import { concat } from '@ganglion/core';

export interface ConcatConfig {
  readonly axis: number;
  /** Number of inputs. Default 2. */
  readonly count?: number;
}

export class Concat extends Layer<ConcatConfig> {
  static override readonly kind = 'Concat';

  get inputs() {
    return Array.from({ length: this.config.count ?? 2 }, (_, i) => ({ name: `x${i}` }));
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const specs = this.inputs.map((p) => expectPort(p.name, inputs[p.name], ['float32', 'int32']));
    const shape = concatPrimitive.shape(specs, { axis: this.config.axis });
    return { outputs: [{ name: 'y', dtype: specs[0].dtype, shape }], params: [] };
  }

  forward(inputs: Readonly<Record<string, Tensor>>): Tensor {
    return concat(
      this.inputs.map((p) => inputs[p.name]),
      this.config.axis,
    );
  }
}
