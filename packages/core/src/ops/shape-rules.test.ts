// Shape and dtype rules of every primitive, with symbolic dims, and the errors for mismatches.
// Rules are called directly on specs: no backend runs.
import { describe, expect, test } from 'vitest';
import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import { AttributeError, DTypeError, ShapeError } from '../errors.js';
import type { Shape } from '../shape/dim.js';
import { type AttrsOf, OP_NAMES, type OpName, primitives } from './registry.js';

interface Rule<K extends OpName = OpName> {
  op: K;
  inputs: [Shape, DType?][];
  attrs: AttrsOf<K>;
  shape?: Shape;
  dtype?: DType;
  error?: [new (...a: never[]) => Error, RegExp];
}

const none = {} as Record<string, never>;
const r = <K extends OpName>(op: K, inputs: [Shape, DType?][], attrs: AttrsOf<K>, expected: Partial<Rule<K>>): Rule =>
  ({ op, inputs, attrs, ...expected }) as Rule;

const rules: Rule[] = [
  r('Abs', [[['batch', 3]]], none, { shape: ['batch', 3] }),
  r('Abs', [[[2], 'bool']], none, { error: [DTypeError, /Abs: input "x" has dtype bool, expected float32 or int32/] }),
  r('Add', [[['batch', 'time', 64]], [[64]]], none, { shape: ['batch', 'time', 64] }),
  r('Add', [[['batch', 1]], [[1, 'time']]], none, { shape: ['batch', 'time'] }),
  r('Add', [[[2, 3]], [[4]]], none, { error: [ShapeError, /Add: shapes \[2, 3\] and \[4\] do not broadcast/] }),
  r('Add', [[['batch']], [[32]]], none, { error: [ShapeError, /batch vs 32/] }),
  r(
    'Add',
    [
      [[2], 'float32'],
      [[2], 'int32'],
    ],
    none,
    { error: [DTypeError, /Add: dtypes of "a" \(float32\) and "b" \(int32\) differ/] },
  ),
  r('Sub', [[['batch', 3]], [[3]]], none, { shape: ['batch', 3] }),
  r('Mul', [[[]], [['n']]], none, { shape: ['n'] }),
  r('Div', [[[4, 1]], [[1, 5]]], none, { shape: [4, 5] }),
  r('Pow', [[['batch', 2]], [[1]]], none, { shape: ['batch', 2] }),
  r(
    'Pow',
    [
      [[2], 'int32'],
      [[2], 'int32'],
    ],
    none,
    { error: [DTypeError, /Pow: input "a" has dtype int32, expected float32/] },
  ),
  r('Max', [[['t', 4]], [[4]]], none, { shape: ['t', 4] }),
  r('Min', [[[3, 1]], [[2, 1, 4]]], none, { shape: [2, 3, 4] }),
  r('Neg', [[['batch']]], none, { shape: ['batch'] }),
  r('Exp', [[['batch', 2]]], none, { shape: ['batch', 2] }),
  r('Exp', [[[2], 'int32']], none, { error: [DTypeError, /Exp: input "x" has dtype int32, expected float32/] }),
  r('Log', [[['batch', 2]]], none, { shape: ['batch', 2] }),
  r('Sqrt', [[[2, 'n']]], none, { shape: [2, 'n'] }),
  r('Tanh', [[['batch', 'time', 8]]], none, { shape: ['batch', 'time', 8] }),
  r('Sigmoid', [[['batch']]], none, { shape: ['batch'] }),
  r('Relu', [[['batch', 5]]], none, { shape: ['batch', 5] }),
  r('Erf', [[[3]]], none, { shape: [3] }),
  r('Sign', [[['n'], 'int32']], none, { shape: ['n'], dtype: 'int32' }),
  r('Where', [[['batch', 1], 'bool'], [['batch', 4]], [[4]]], none, { shape: ['batch', 4] }),
  r('Where', [[[2], 'float32'], [[2]], [[2]]], none, {
    error: [DTypeError, /Where: input "condition" has dtype float32, expected bool/],
  }),
  r(
    'Equal',
    [
      [['n'], 'int32'],
      [[1], 'int32'],
    ],
    none,
    { shape: ['n'], dtype: 'bool' },
  ),
  r('Less', [[['n', 2]], [[2]]], none, { shape: ['n', 2], dtype: 'bool' }),
  r('Greater', [[[3]], [[3]]], none, { shape: [3], dtype: 'bool' }),
  r('ReduceSum', [[['batch', 'time', 64]]], { axes: [1], keepdims: false }, { shape: ['batch', 64] }),
  r('ReduceSum', [[['batch', 'time', 64]]], { axes: [-1], keepdims: true }, { shape: ['batch', 'time', 1] }),
  r(
    'ReduceSum',
    [[[2, 3]]],
    { axes: [2], keepdims: false },
    { error: [ShapeError, /ReduceSum: axis 2 is out of range for rank 2/] },
  ),
  r('ReduceMean', [[['batch', 3]]], { keepdims: false }, { shape: [] }),
  r('ReduceMax', [[['batch', 3, 4]]], { axes: [0, 2], keepdims: true }, { shape: [1, 3, 1] }),
  r('Softmax', [[['batch', 65]]], { axis: -1 }, { shape: ['batch', 65] }),
  r('Softmax', [[[2, 3]]], { axis: 2 }, { error: [ShapeError, /Softmax: axis 2 is out of range for rank 2/] }),
  r('LogSoftmax', [[['batch', 'time', 65]]], { axis: 2 }, { shape: ['batch', 'time', 65] }),
  r('MatMul', [[['batch', 'time', 64]], [[64, 256]]], none, { shape: ['batch', 'time', 256] }),
  r('MatMul', [[[2, 1, 3, 4]], [[5, 4, 6]]], none, { shape: [2, 5, 3, 6] }),
  r('MatMul', [[[32, 64]], [[128, 10]]], none, {
    error: [ShapeError, /MatMul: inner dims 64 and 128 differ \(a: \[32, 64\], b: \[128, 10\]\)/],
  }),
  r('MatMul', [[[64]], [[64, 3]]], none, {
    error: [ShapeError, /MatMul: input "a" has shape \[64\] \(rank 1\), expected rank >= 2/],
  }),
  r('Reshape', [[['batch', 'time', 64]]], { shape: [-1, 64] }, { shape: ['batch*time', 64] }),
  r('Reshape', [[['batch', 'time', 64]]], { shape: ['batch', -1] }, { shape: ['batch', '64*time'] }),
  r(
    'Reshape',
    [[[2, 3]]],
    { shape: [4, -1] },
    { error: [ShapeError, /Reshape: cannot reshape \[2, 3\] to \[4, -1\]/] },
  ),
  r('Reshape', [[[2, 3]]], { shape: [-1, -1] }, { error: [AttributeError, /more than one -1/] }),
  r('Transpose', [[['batch', 'time', 8]]], { perm: [1, 0, 2] }, { shape: ['time', 'batch', 8] }),
  r(
    'Transpose',
    [[[2, 3]]],
    { perm: [0, 0] },
    { error: [AttributeError, /Transpose: perm \[0,0\] is not a permutation/] },
  ),
  r('Concat', [[['batch', 3]], [['batch', 5]]], { axis: 1 }, { shape: ['batch', 8] }),
  r('Concat', [[['batch', 3]], [['batch', 3]]], { axis: 0 }, { shape: ['2*batch', 3] }),
  r(
    'Concat',
    [[[2, 3]], [[4, 5]]],
    { axis: 1 },
    { error: [ShapeError, /Concat: "inputs\[1\]" has shape \[4, 5\], expected \[2, 3\] except along axis 1/] },
  ),
  r('Slice', [[['batch', 10]]], { starts: [2], ends: [-1], axes: [1] }, { shape: ['batch', 7] }),
  r(
    'Slice',
    [[['batch', 10]]],
    { starts: [1], ends: [3], axes: [0] },
    { error: [ShapeError, /Slice: axis 0 has symbolic size batch/] },
  ),
  r('Pad', [[['batch', 3]]], { pads: [0, 1, 0, 2], value: 0 }, { shape: ['batch', 6] }),
  r(
    'Pad',
    [[[2, 3]]],
    { pads: [1, 1], value: 0 },
    { error: [AttributeError, /Pad: "pads" has 2 entries, expected 4/] },
  ),
  r('Expand', [[[1, 4]]], { shape: ['batch', 3, 4] }, { shape: ['batch', 3, 4] }),
  r(
    'Expand',
    [[[2, 4]]],
    { shape: [3, 4] },
    { error: [ShapeError, /Expand: shapes \[2, 4\] and \[3, 4\] do not broadcast/] },
  ),
  r('Gather', [[[65, 64]], [['batch', 'time'], 'int32']], { axis: 0 }, { shape: ['batch', 'time', 64] }),
  r(
    'Gather',
    [[[65, 64]], [['batch'], 'float32']],
    { axis: 0 },
    { error: [DTypeError, /Gather: input "indices" has dtype float32, expected int32/] },
  ),
  r('ScatterAdd', [[['batch', 'time'], 'int32'], [['batch', 'time', 64]]], { axis: 0, size: 65 }, { shape: [65, 64] }),
  r(
    'ScatterAdd',
    [[[3], 'int32'], [[4, 2]]],
    { axis: 0, size: 5 },
    { error: [ShapeError, /ScatterAdd: "updates" \[4, 2\] must hold the "indices" shape \[3\] at axis 0/] },
  ),
  r('Cast', [[['batch', 2]]], { to: 'int32' }, { shape: ['batch', 2], dtype: 'int32' }),
  r('Clip', [[['batch']]], { min: -1, max: 1 }, { shape: ['batch'] }),
  r('RandomUniform', [], { shape: [2, 3], low: 0, high: 1, seed: 1 }, { shape: [2, 3], dtype: 'float32' }),
  r('RandomNormal', [], { shape: [4], mean: 0, scale: 1, seed: 1 }, { shape: [4], dtype: 'float32' }),
];

function run(rule: Rule): { shape: Shape; dtype: DType } {
  const prim = primitives[rule.op] as unknown as {
    checkAttrs?: (a: unknown) => void;
    shape: (i: TensorSpec[], a: unknown) => Shape;
    dtype: (i: TensorSpec[], a: unknown) => DType;
  };
  const specs = rule.inputs.map(([shape, dtype]) => ({ shape, dtype: dtype ?? 'float32' }));
  prim.checkAttrs?.(rule.attrs);
  const dtype = prim.dtype(specs, rule.attrs);
  return { shape: prim.shape(specs, rule.attrs), dtype };
}

describe('shape and dtype rules', () => {
  test.each(rules.map((rule, i) => [`${rule.op} #${i}`, rule] as const))('%s', (_, rule) => {
    if (rule.error) {
      const [type, message] = rule.error;
      expect(() => run(rule)).toThrow(type);
      expect(() => run(rule)).toThrow(message);
    } else {
      const out = run(rule);
      expect(out.shape).toEqual(rule.shape);
      if (rule.dtype) expect(out.dtype).toBe(rule.dtype);
    }
  });

  test('every primitive has a shape-rule case', () => {
    const covered = new Set(rules.map((x) => x.op));
    expect(OP_NAMES.filter((op) => !covered.has(op))).toEqual([]);
  });

  test('every registry key is the primitive name (the ONNX op type)', () => {
    for (const op of OP_NAMES) expect(primitives[op].name).toBe(op);
  });
});
