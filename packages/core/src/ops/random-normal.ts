// RandomNormal with an explicit seed (ONNX RandomNormal). Values come from core's counter-based
// generator, so every backend produces the same numbers for the same seed.
import { apply } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, requireFinite, requireInt } from './primitive.js';
import { checkShape } from './random-shape.js';

export interface RandomNormalAttrs {
  readonly shape: readonly number[];
  readonly mean: number;
  readonly scale: number;
  readonly seed: number;
}

export const randomNormalPrimitive = definePrimitive<'RandomNormal', RandomNormalAttrs>({
  name: 'RandomNormal',
  inputs: [],
  checkAttrs: (a) => {
    checkShape('RandomNormal', a.shape);
    requireFinite('RandomNormal', 'mean', a.mean);
    requireFinite('RandomNormal', 'scale', a.scale);
    requireInt('RandomNormal', 'seed', a.seed);
  },
  dtype: () => 'float32',
  shape: (_, { shape }) => shape,
  vjp: null,
});

/** Normal values, reproducible from `seed` on every backend. */
export function randomNormal(shape: readonly number[], seed: number, mean = 0, scale = 1): Tensor {
  return apply(randomNormalPrimitive, [], { shape, mean, scale, seed });
}
