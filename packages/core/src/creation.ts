// Creating tensors from values. Constants are not primitives: a backend allocates them directly
// (and the ONNX tracer turns them into initializers).

import type { Backend } from './backend.js';
import { type DType, isDType } from './dtype.js';
import { getBackend, makeTensor } from './engine.js';
import { DTypeError, ShapeError } from './errors.js';
import { type Shape, formatShape, staticSize } from './shape/dim.js';
import type { Tensor } from './tensor.js';

export type NestedArray = number | boolean | readonly NestedArray[];

function flatten(values: NestedArray, out: number[], shape: number[], depth: number): void {
  if (Array.isArray(values)) {
    if (shape.length === depth) shape.push(values.length);
    else if (shape[depth] !== values.length)
      throw new ShapeError(`tensor(): ragged nested array at depth ${depth}: ${values.length} vs ${shape[depth]}`);
    for (const v of values) flatten(v as NestedArray, out, shape, depth + 1);
  } else {
    if (depth !== shape.length) throw new ShapeError(`tensor(): ragged nested array at depth ${depth}`);
    out.push(typeof values === 'boolean' ? (values ? 1 : 0) : (values as number));
  }
}

function checkValues(values: ArrayLike<number>, dtype: DType): void {
  if (dtype === 'float32') return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || (dtype === 'bool' && v !== 0 && v !== 1)) {
      throw new DTypeError(`tensor(): value ${v} at flat index ${i} is not a valid ${dtype}`);
    }
  }
}

/**
 * A tensor from values: a nested array, or a flat array/typed array with a shape.
 *
 *   tensor([[1, 2], [3, 4]])                    // float32 [2, 2]
 *   tensor([0, 2, 1], [3], 'int32')
 */
export function tensor(
  values: NestedArray | ArrayLike<number>,
  shape?: Shape,
  dtype: DType = 'float32',
  backend?: Backend,
): Tensor {
  if (!isDType(dtype)) throw new DTypeError(`tensor(): unknown dtype ${String(dtype)}`);
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === 'number' || typeof values === 'boolean' || Array.isArray(values)) {
    const out: number[] = [];
    inferred = [];
    flatten(values as NestedArray, out, inferred, 0);
    flat = out;
  } else {
    flat = values as ArrayLike<number>;
    inferred = [flat.length];
  }
  const finalShape = shape ?? inferred;
  const n = staticSize(finalShape, 'tensor()');
  if (n !== flat.length) {
    throw new ShapeError(
      `tensor(): ${flat.length} values do not fill shape ${formatShape(finalShape)} (${n} elements)`,
    );
  }
  checkValues(flat, dtype);
  const b = backend ?? getBackend();
  return makeTensor(b.fromValues(flat, { shape: finalShape, dtype }), { shape: finalShape, dtype }, b);
}

export function scalar(value: number, dtype: DType = 'float32', backend?: Backend): Tensor {
  return tensor([value], [], dtype, backend);
}

export function fill(shape: Shape, value: number, dtype: DType = 'float32', backend?: Backend): Tensor {
  const n = staticSize(shape, 'fill()');
  return tensor(new Float64Array(n).fill(value), shape, dtype, backend);
}

export function zeros(shape: Shape, dtype: DType = 'float32', backend?: Backend): Tensor {
  return fill(shape, 0, dtype, backend);
}

export function ones(shape: Shape, dtype: DType = 'float32', backend?: Backend): Tensor {
  return fill(shape, 1, dtype, backend);
}
