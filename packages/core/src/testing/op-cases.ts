// The shared op case table. The gradient checks (reference backend) and every backend's parity
// test run these cases; a primitive without a case fails a test.
import type { AttrsOf, OpName } from '../ops/registry.js';
import type { InputSpec } from './values.js';

export interface OpCase<K extends OpName = OpName> {
  readonly op: K;
  /** A short label, unique within the op. */
  readonly label: string;
  readonly inputs: readonly InputSpec[];
  readonly attrs: AttrsOf<K>;
}

function c<K extends OpName>(op: K, label: string, inputs: readonly InputSpec[], attrs: AttrsOf<K>): OpCase {
  return { op, label, inputs, attrs } as OpCase;
}

const none = {} as Record<string, never>;
const f = (...shape: number[]): InputSpec => ({ shape });
const pos = (...shape: number[]): InputSpec => ({ shape, fill: 'positive' });
const away = (...shape: number[]): InputSpec => ({ shape, fill: 'away' });
const ints = (lo: number, hi: number, ...shape: number[]): InputSpec => ({
  shape,
  dtype: 'int32',
  fill: { ints: [lo, hi] },
});
const bool = (...shape: number[]): InputSpec => ({ shape, dtype: 'bool' });

export const opCases: readonly OpCase[] = [
  c('Abs', 'matrix', [away(3, 4)], none),
  c('Abs', 'int32', [ints(-5, 5, 6)], none),
  c('Add', 'same shape', [f(2, 3), f(2, 3)], none),
  c('Add', 'broadcast row', [f(2, 3, 4), f(4)], none),
  c('Add', 'broadcast both', [f(3, 1), f(1, 4)], none),
  c('Add', 'scalar', [f(2, 3), f()], none),
  c('Add', 'int32', [ints(-9, 9, 2, 3), ints(-9, 9, 3)], none),
  c('Sub', 'broadcast row', [f(2, 3), f(3)], none),
  c('Sub', 'broadcast lead', [f(4, 1, 3), f(2, 3)], none),
  c('Mul', 'broadcast column', [f(2, 3), f(2, 1)], none),
  c('Mul', 'scalar', [f(5), f()], none),
  c('Div', 'broadcast row', [f(2, 3), pos(3)], none),
  c('Div', 'broadcast both', [pos(3, 1), pos(1, 2)], none),
  c('Div', 'int32 truncates', [ints(-20, 20, 8), ints(1, 5, 8)], none),
  c('Pow', 'elementwise', [pos(2, 3), f(2, 3)], none),
  c('Pow', 'broadcast exponent', [pos(2, 3), f(3)], none),
  c('Max', 'broadcast', [f(3, 4), f(4)], none),
  c('Max', 'same shape', [f(2, 5), f(2, 5)], none),
  c('Min', 'broadcast', [f(3, 4), f(3, 1)], none),
  c('Neg', 'matrix', [f(3, 4)], none),
  c('Exp', 'matrix', [f(3, 4)], none),
  c('Log', 'matrix', [pos(3, 4)], none),
  c('Sqrt', 'matrix', [pos(3, 4)], none),
  c('Tanh', 'matrix', [f(3, 4)], none),
  c('Sigmoid', 'matrix', [f(3, 4)], none),
  c('Sigmoid', 'large', [{ shape: [4], fill: { values: [-30, -8, 8, 30] } }], none),
  c('Relu', 'matrix', [away(3, 4)], none),
  c('Erf', 'matrix', [f(3, 4)], none),
  c('Erf', 'tails', [{ shape: [6], fill: { values: [-4, -2.7, -0.1, 0.3, 2.6, 5] } }], none),
  c('Sign', 'float', [away(2, 3)], none),
  c('Where', 'broadcast', [bool(2, 3), f(2, 3), f(3)], none),
  c('Where', 'broadcast cond', [{ shape: [3, 1], dtype: 'bool', fill: { values: [1, 0, 1] } }, f(3, 4), f(1, 4)], none),
  c('Equal', 'int32', [ints(0, 3, 3, 4), ints(0, 3, 4)], none),
  c('Less', 'float', [f(3, 4), f(4)], none),
  c('Greater', 'float', [f(3, 4), f(3, 1)], none),
  c('ReduceSum', 'one axis', [f(2, 3, 4)], { axes: [1], keepdims: false }),
  c('ReduceSum', 'all', [f(2, 3, 4)], { keepdims: false }),
  c('ReduceSum', 'two axes kept', [f(2, 3, 4)], { axes: [0, -1], keepdims: true }),
  c('ReduceSum', 'int32', [ints(-5, 5, 3, 4)], { axes: [0], keepdims: false }),
  c('ReduceMean', 'one axis', [f(2, 3, 4)], { axes: [-1], keepdims: false }),
  c('ReduceMean', 'two axes kept', [f(2, 3, 4)], { axes: [0, 2], keepdims: true }),
  c('ReduceMax', 'one axis', [f(2, 3, 4)], { axes: [1], keepdims: false }),
  c('ReduceMax', 'all kept', [f(3, 4)], { keepdims: true }),
  c('Softmax', 'last axis', [f(3, 5)], { axis: -1 }),
  c('Softmax', 'middle axis', [f(2, 4, 3)], { axis: 1 }),
  c('LogSoftmax', 'last axis', [f(3, 5)], { axis: -1 }),
  c('LogSoftmax', 'first axis', [f(4, 3)], { axis: 0 }),
  c('MatMul', 'matrix', [f(3, 4), f(4, 5)], none),
  c('MatMul', 'batched x matrix', [f(2, 3, 4), f(4, 5)], none),
  c('MatMul', 'broadcast batch', [f(2, 1, 3, 4), f(3, 4, 2)], none),
  c('Reshape', 'infer', [f(2, 3, 4)], { shape: [6, -1] }),
  c('Reshape', 'to vector', [f(2, 3)], { shape: [6] }),
  c('Transpose', 'perm', [f(2, 3, 4)], { perm: [2, 0, 1] }),
  c('Transpose', 'matrix', [f(3, 5)], { perm: [1, 0] }),
  c('Concat', 'three inputs', [f(2, 1, 3), f(2, 4, 3), f(2, 2, 3)], { axis: 1 }),
  c('Concat', 'last axis', [f(3, 2), f(3, 5)], { axis: -1 }),
  c('Slice', 'negative and clamped', [f(4, 6)], { starts: [1, -4], ends: [100, -1], axes: [0, 1] }),
  c('Slice', 'one axis', [f(2, 5, 3)], { starts: [2], ends: [4], axes: [1] }),
  c('Pad', 'both ends', [f(2, 3)], { pads: [1, 0, 2, 3], value: 0 }),
  c('Pad', 'value', [f(2, 2, 2)], { pads: [0, 1, 0, 0, 0, 1], value: -1.5 }),
  c('Expand', 'broadcast', [f(3, 1)], { shape: [2, 3, 4] }),
  c('Expand', 'scalar', [f()], { shape: [2, 3] }),
  c('Gather', 'embedding lookup', [f(5, 3), ints(0, 5, 2, 4)], { axis: 0 }),
  c('Gather', 'axis 1', [f(2, 4, 3), ints(0, 4, 5)], { axis: 1 }),
  c('ScatterAdd', 'rows', [ints(0, 4, 6), f(6, 3)], { axis: 0, size: 4 }),
  c('ScatterAdd', 'axis 1 with 2-d indices', [ints(0, 3, 2, 2), f(2, 2, 2, 5)], { axis: 1, size: 3 }),
  c('Cast', 'float to float32 (identity)', [f(2, 3)], { to: 'float32' }),
  c('Cast', 'float to int32', [f(3, 4)], { to: 'int32' }),
  c('Cast', 'int32 to float', [ints(-9, 9, 5)], { to: 'float32' }),
  c('Cast', 'float to bool', [{ shape: [5], fill: { values: [0, 1, -2, 0.5, 0] } }], { to: 'bool' }),
  c('Clip', 'both sides', [away(3, 4)], { min: -1.1, max: 0.9 }),
  c('RandomUniform', 'matrix', [], { shape: [3, 4], low: -1, high: 3, seed: 42 }),
  c('RandomNormal', 'matrix', [], { shape: [4, 5], mean: 1, scale: 2, seed: 7 }),
];
