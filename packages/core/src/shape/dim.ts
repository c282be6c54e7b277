// Dimensions: a number, or a symbolic name such as 'batch' or 'time' that stays free until run
// time (and becomes an ONNX dim_param on export). Products of dims stay exact: a symbolic dim is a
// monomial, written canonically as 'coef*a*b' ('64*batch*time'), so Reshape can infer -1 from them.

import { ShapeError } from '../errors.js';

export type Dim = number | string;
export type Shape = readonly Dim[];

interface Monomial {
  coef: number;
  symbols: string[]; // sorted
}

function toMonomial(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, symbols: [] };
  let coef = 1;
  const symbols: string[] = [];
  for (const part of d.split('*')) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else if (p.length > 0) symbols.push(p);
  }
  symbols.sort();
  return { coef, symbols };
}

function fromMonomial(m: Monomial): Dim {
  if (m.symbols.length === 0) return m.coef;
  if (m.coef === 0) return 0;
  return (m.coef === 1 ? '' : `${m.coef}*`) + m.symbols.join('*');
}

/** True when the dim is a concrete number. */
export function isStatic(d: Dim): d is number {
  return typeof d === 'number';
}

/** True when every dim of the shape is a number. */
export function isStaticShape(shape: Shape): shape is readonly number[] {
  return shape.every(isStatic);
}

/** Product of dims, exact for symbolic dims. */
export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const ma = toMonomial(a);
  const mb = toMonomial(b);
  return fromMonomial({ coef: ma.coef * mb.coef, symbols: [...ma.symbols, ...mb.symbols].sort() });
}

/** Exact quotient a / b; undefined when it is not a whole monomial. */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const ma = toMonomial(a);
  const mb = toMonomial(b);
  if (mb.coef === 0 || ma.coef % mb.coef !== 0) return undefined;
  const rest = [...ma.symbols];
  for (const s of mb.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return fromMonomial({ coef: ma.coef / mb.coef, symbols: rest });
}

/** Number of elements of a shape (a monomial when symbolic). */
export function sizeOf(shape: Shape): Dim {
  let n: Dim = 1;
  for (const d of shape) n = mulDims(n, d);
  return n;
}

/** Number of elements of a static shape. */
export function staticSize(shape: Shape, what = 'shape'): number {
  const n = sizeOf(shape);
  if (typeof n !== 'number')
    throw new ShapeError(`${what} ${formatShape(shape)} is symbolic; a concrete size is needed`);
  return n;
}

/** Two dims are the same when equal as numbers or as canonical monomials. */
export function sameDim(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  const ma = toMonomial(a);
  const mb = toMonomial(b);
  return ma.coef === mb.coef && ma.symbols.join('*') === mb.symbols.join('*');
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => sameDim(d, b[i]));
}

export function formatShape(shape: Shape): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : d)).join(', ')}]`;
}

/** Normalize a possibly negative axis against a rank; throws ShapeError naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for rank ${rank} (expected -${rank} <= axis < ${rank})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Numpy broadcasting of two shapes; throws ShapeError naming the op and both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (sameDim(da, db)) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else {
      throw new ShapeError(
        `${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (dim ${i}: ${da} vs ${db})`,
      );
    }
  }
  return out;
}

/** Row-major strides of a static shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}
