// Shape composites: thin wrappers over Reshape and Transpose.
import { ShapeError } from '../errors.js';
import { type Dim, formatShape, mulDims, normalizeAxis } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { reshape } from '../ops/reshape.js';

/** Insert a size-1 axis at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis('unsqueeze', axis, x.rank + 1);
  const shape: Dim[] = [...x.shape];
  shape.splice(ax, 0, 1);
  return reshape(x, shape);
}

/** Remove a size-1 axis. */
export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis('squeeze', axis, x.rank);
  if (x.shape[ax] !== 1)
    throw new ShapeError(`squeeze: axis ${ax} of ${formatShape(x.shape)} has size ${x.shape[ax]}, expected 1`);
  const shape = [...x.shape];
  shape.splice(ax, 1);
  return reshape(x, shape);
}

/** Flatten all axes from `startAxis` on into one. */
export function flatten(x: Tensor, startAxis = 1): Tensor {
  const ax = normalizeAxis('flatten', startAxis, x.rank);
  const rest = x.shape.slice(ax).reduce<Dim>((a, d) => mulDims(a, d), 1);
  return reshape(x, [...x.shape.slice(0, ax), rest]);
}
