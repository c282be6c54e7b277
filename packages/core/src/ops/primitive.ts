// What a primitive is: a name (the ONNX operator type where one exists), its inputs, an attribute
// check, a shape rule, a dtype rule and a VJP rule written with other ops. Each primitive is
// declared once, in its own file next to this one, and listed once in `registry.ts`.

import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import { AttributeError, DTypeError, ShapeError } from '../errors.js';
import type { Shape } from '../shape/dim.js';
import { formatShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';

export interface VjpContext<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: A;
  /** Gradient of the loss with respect to `output`. */
  readonly grad: Tensor;
}

/** Gradients of the loss with respect to each input (null: not differentiable / not needed). */
export type VjpRule<A> = (ctx: VjpContext<A>) => readonly (Tensor | null)[];

export interface Primitive<K extends string = string, A = object> {
  readonly name: K;
  /** Input names, for errors. A variadic primitive (Concat) names one and sets `variadic`. */
  readonly inputs: readonly string[];
  readonly variadic?: boolean;
  /** Throws AttributeError for malformed or non-finite attributes. */
  readonly checkAttrs?: (attrs: A) => void;
  readonly dtype: (inputs: readonly TensorSpec[], attrs: A) => DType;
  readonly shape: (inputs: readonly TensorSpec[], attrs: A) => Shape;
  /** null: the output is not differentiable (comparisons, random, ...). */
  readonly vjp: VjpRule<A> | null;
  /**
   * Set by ops whose output is a window of input 0 (Slice): where the window lies on each axis
   * (size -1: a whole symbolic axis). The tape then keeps the gradient as a piece and joins the
   * pieces of one tensor with a Concat, instead of summing the zero-padded copies `vjp` gives.
   */
  readonly window?: (
    inputs: readonly TensorSpec[],
    attrs: A,
  ) => { readonly begin: readonly number[]; readonly size: readonly number[] };
}

export function definePrimitive<const K extends string, A = Record<string, never>>(
  def: Primitive<K, A>,
): Primitive<K, A> {
  return def;
}

// ---- small helpers shared by the rules ----

/** The dtype of all inputs, which must agree. */
export function sameDType(op: string, inputs: readonly TensorSpec[], names?: readonly string[]): DType {
  const d = inputs[0].dtype;
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].dtype !== d) {
      const a = names?.[0] ?? 'input 0';
      const b = names?.[i] ?? `input ${i}`;
      throw new DTypeError(`${op}: dtypes of "${a}" (${d}) and "${b}" (${inputs[i].dtype}) differ`);
    }
  }
  return d;
}

export function requireDType(op: string, input: string, spec: TensorSpec, allowed: readonly DType[]): void {
  if (!allowed.includes(spec.dtype)) {
    throw new DTypeError(`${op}: input "${input}" has dtype ${spec.dtype}, expected ${allowed.join(' or ')}`);
  }
}

export function requireRank(
  op: string,
  input: string,
  spec: TensorSpec,
  test: (rank: number) => boolean,
  expected: string,
): void {
  if (!test(spec.shape.length)) {
    throw new ShapeError(
      `${op}: input "${input}" has shape ${formatShape(spec.shape)} (rank ${spec.shape.length}), expected ${expected}`,
    );
  }
}

export function requireFinite(op: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AttributeError(`${op}: attribute "${name}" must be a finite number, got ${String(value)}`);
  }
}

export function requireInt(op: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new AttributeError(`${op}: attribute "${name}" must be an integer, got ${String(value)}`);
  }
}

export function requireIntList(op: string, name: string, value: unknown): void {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    throw new AttributeError(`${op}: attribute "${name}" must be a list of integers, got ${JSON.stringify(value)}`);
  }
}

/** Sorted, de-duplicated, non-negative axes; throws ShapeError for out-of-range or repeated axes. */
export function normalizeAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new ShapeError(`${op}: axis ${a} is out of range for rank ${rank} (expected -${rank} <= axis < ${rank})`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new AttributeError(`${op}: axes ${JSON.stringify(axes)} repeat an axis`);
  return out.sort((a, b) => a - b);
}
