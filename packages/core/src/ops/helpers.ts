// Shared building blocks for declaring elementwise primitives and for writing VJP rules.
// This file imports no op module at top level, so every op file can use it while declaring itself.

import type { TensorSpec } from '../backend.js';
import { scalar } from '../creation.js';
import type { DType } from '../dtype.js';
import { apply } from '../engine.js';
import { AttributeError } from '../errors.js';
import { broadcastShapes } from '../shape/dim.js';
import { Tensor } from '../tensor.js';
import { type Primitive, type VjpRule, definePrimitive, requireDType, sameDType } from './primitive.js';

/** A tensor, or a plain number that becomes a scalar of the other operand's dtype and backend. */
export type TensorLike = Tensor | number;

export const NUMERIC: readonly DType[] = ['float32', 'int32'];
export const FLOAT: readonly DType[] = ['float32'];

/** Turn numbers into scalars matching the first Tensor among the operands. */
export function toTensors(op: string, ...xs: TensorLike[]): Tensor[] {
  const like = xs.find((x): x is Tensor => x instanceof Tensor);
  if (!like) throw new AttributeError(`${op}: at least one operand must be a Tensor`);
  return xs.map((x) => (x instanceof Tensor ? x : scalar(x, like.dtype, like.backend)));
}

/** A broadcasting binary elementwise primitive over `dtypes`, output dtype = input dtype. */
export function defineBinary<const K extends string>(
  name: K,
  dtypes: readonly DType[],
  vjp: VjpRule<Record<string, never>>,
): Primitive<K, Record<string, never>> {
  return definePrimitive<K, Record<string, never>>({
    name,
    inputs: ['a', 'b'],
    dtype: (ins) => {
      const d = sameDType(name, ins, ['a', 'b']);
      requireDType(name, 'a', ins[0], dtypes);
      return d;
    },
    shape: (ins) => broadcastShapes(name, ins[0].shape, ins[1].shape),
    vjp,
  });
}

/** A broadcasting comparison primitive: numeric inputs of one dtype, bool output. */
export function defineComparison<const K extends string>(name: K): Primitive<K, Record<string, never>> {
  return definePrimitive<K, Record<string, never>>({
    name,
    inputs: ['a', 'b'],
    dtype: (ins) => {
      sameDType(name, ins, ['a', 'b']);
      return 'bool';
    },
    shape: (ins) => broadcastShapes(name, ins[0].shape, ins[1].shape),
    vjp: null,
  });
}

/** A unary elementwise primitive over `dtypes`, output dtype = input dtype. */
export function defineUnary<const K extends string>(
  name: K,
  dtypes: readonly DType[],
  vjp: VjpRule<Record<string, never>> | null,
): Primitive<K, Record<string, never>> {
  return definePrimitive<K, Record<string, never>>({
    name,
    inputs: ['x'],
    dtype: (ins: readonly TensorSpec[]) => {
      requireDType(name, 'x', ins[0], dtypes);
      return ins[0].dtype;
    },
    shape: (ins) => ins[0].shape,
    vjp,
  });
}

export function applyBinary<K extends string>(
  prim: Primitive<K, Record<string, never>>,
  a: TensorLike,
  b: TensorLike,
): Tensor {
  return apply(prim, toTensors(prim.name, a, b), {});
}

export function applyUnary<K extends string>(prim: Primitive<K, Record<string, never>>, x: Tensor): Tensor {
  return apply(prim, [x], {});
}

/** A scalar constant on the same backend and of the same dtype as `like`. */
export function constLike(like: Tensor, value: number): Tensor {
  return scalar(value, like.dtype, like.backend);
}
