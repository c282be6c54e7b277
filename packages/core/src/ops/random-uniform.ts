// RandomUniform with an explicit seed (ONNX RandomUniform). Values come from core's counter-based
// generator, so every backend produces the same numbers for the same seed.
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, requireFinite, requireInt } from './primitive.js';
import { checkShape } from './random-shape.js';

export interface RandomUniformAttrs {
  readonly shape: readonly number[];
  readonly low: number;
  readonly high: number;
  readonly seed: number;
}

export const randomUniformPrimitive = definePrimitive<'RandomUniform', RandomUniformAttrs>({
  name: 'RandomUniform',
  inputs: [],
  checkAttrs: (a) => {
    checkShape('RandomUniform', a.shape);
    requireFinite('RandomUniform', 'low', a.low);
    requireFinite('RandomUniform', 'high', a.high);
    requireInt('RandomUniform', 'seed', a.seed);
    if (a.low > a.high) throw new AttributeError(`RandomUniform: low ${a.low} is greater than high ${a.high}`);
  },
  dtype: () => 'float32',
  shape: (_, { shape }) => shape,
  vjp: null,
});

/** Uniform values in [low, high), reproducible from `seed` on every backend. */
export function randomUniform(shape: readonly number[], seed: number, low = 0, high = 1): Tensor {
  return apply(randomUniformPrimitive, [], { shape, low, high, seed });
}
