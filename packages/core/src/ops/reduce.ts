// Shared attribute and shape handling of the Reduce* primitives (ONNX: axes + keepdims).
import type { TensorSpec } from '../backend.js';
import type { Dim, Shape } from '../shape/dim.js';
import { AttributeError } from '../errors.js';
import { normalizeAxes, requireIntList } from './primitive.js';

export interface ReduceAttrs {
  /** Axes to reduce; undefined means all axes. Negative axes count from the end. */
  readonly axes?: readonly number[];
  readonly keepdims: boolean;
}

export function checkReduceAttrs(op: string, attrs: ReduceAttrs): void {
  if (attrs.axes !== undefined) requireIntList(op, 'axes', attrs.axes);
  if (typeof attrs.keepdims !== 'boolean') throw new AttributeError(`${op}: attribute "keepdims" must be a boolean`);
}

function reduceAxes(op: string, spec: TensorSpec, attrs: ReduceAttrs): number[] {
  const rank = spec.shape.length;
  return attrs.axes === undefined ? spec.shape.map((_, i) => i) : normalizeAxes(op, attrs.axes, rank);
}

export function reducedShape(op: string, spec: TensorSpec, attrs: ReduceAttrs): Shape {
  const axes = new Set(reduceAxes(op, spec, attrs));
  const out: Dim[] = [];
  spec.shape.forEach((d, i) => {
    if (!axes.has(i)) out.push(d);
    else if (attrs.keepdims) out.push(1);
  });
  return out;
}

/** The reduced shape with kept dims: what a reduction's gradient is reshaped to before expanding. */
export function keptShape(op: string, spec: TensorSpec, attrs: ReduceAttrs): Shape {
  return reducedShape(op, spec, { axes: attrs.axes, keepdims: true });
}
