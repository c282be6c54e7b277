// Small layers for core's own tests and other packages' (core cannot depend on @ganglion/layers):
// a dense layer, a mean-squared-error loss, and a layer whose gradient blows up on purpose.
import type { TensorSpec } from '../backend.js';
import { meanSquaredError } from '../composites/losses.js';
import { Layer, type LayerSignature, expectPort, lastDim } from '../graph/layer.js';
import { add } from '../ops/add.js';
import { matMul } from '../ops/mat-mul.js';
import { sqrt } from '../ops/sqrt.js';
import { sub } from '../ops/sub.js';
import type { Tensor } from '../tensor.js';

/** x @ kernel + bias. */
export class Linear extends Layer<{ units: number }> {
  static override readonly kind = 'Linear';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape.slice(0, -1), this.config.units] }],
      params: [
        { name: 'kernel', shape: [lastDim('x', x), this.config.units], init: { kind: 'glorot-uniform' } },
        { name: 'bias', shape: [this.config.units], init: { kind: 'uniform', low: -1, high: 1 } },
      ],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>, { kernel, bias }: Readonly<Record<string, Tensor>>): Tensor {
    return add(matMul(x, kernel), bias);
  }
}

/** Mean squared error between `prediction` and `target`, a scalar. */
export class SquaredErrorLoss extends Layer<Record<string, never>> {
  static override readonly kind = 'SquaredErrorLoss';
  readonly inputs = [{ name: 'prediction' }, { name: 'target' }];
  constructor() {
    super({});
  }
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const p = expectPort('prediction', inputs.prediction, 'float32');
    expectPort('target', inputs.target, 'float32', p.shape);
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }
  forward({ prediction, target }: Readonly<Record<string, Tensor>>): Tensor {
    return meanSquaredError(prediction, target);
  }
}

/** √(w − x), one weight w (2): its gradient −g / (2√(w − x)) is infinite (or 0/0 = NaN) where x = w, while the output stays finite. */
export class RootOfGap extends Layer<Record<string, never>> {
  static override readonly kind = 'RootOfGap';
  readonly inputs = [{ name: 'x' }];
  constructor() {
    super({});
  }
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['batch', 1]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }],
      params: [{ name: 'w', shape: [1], init: { kind: 'constant', value: 2 } }],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>, { w }: Readonly<Record<string, Tensor>>): Tensor {
    return sqrt(sub(w, x));
  }
}
