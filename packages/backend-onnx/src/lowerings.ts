// The ONNX lowering table: one small function per Ganglion primitive emitting the ONNX nodes that
// compute it (PyTorch-symbolic style), exhaustive by type. Shapes arrive resolved by core and may
// hold symbolic dims; where an ONNX input is a shape (Reshape, Expand) it is computed in the graph
// from the inputs (shape-tensors.ts). Each entry matches core's reference semantics; where ONNX
// differs (ScatterAdd has no single ONNX op, Clip on int32, reduce axes that moved from attribute
// to input in opset 18, no bool Where kernel in onnxruntime) the entry bridges it.
import {
  type LoweringTable,
  type Operand,
  type OnnxAttribute,
  type ReduceAttrs,
  type TensorSpec,
  normalValues,
  normalizeAxis,
  onnxAttr,
  sliceBounds,
  staticSize,
  uniformValues,
} from '@ganglion/core';
import { ElemType, elemTypeOf } from './proto.js';
import type { TraceBackend, TraceValue } from './trace-backend.js';

type Op = Operand<TraceValue>;
type Run = (inputs: readonly Op[], attrs: unknown, out: TensorSpec) => TraceValue;

/** The ONNX op types an entry may emit (besides shape computation), for docs and tests. */
export interface OnnxLowering {
  readonly onnx: readonly string[];
}

const { int, ints, float, string } = onnxAttr;
const names = (xs: readonly Op[]) => xs.map((x) => x.handle.name);

export function onnxLowerings(t: TraceBackend): LoweringTable<TraceValue, OnnxLowering> {
  /** An op whose ONNX node takes the same inputs and no attributes. */
  const same = (opType: string) => ({
    onnx: [opType],
    run: ((ins: readonly Op[]) => t.node(opType, names(ins))) as Run,
  });

  function reduce(opType: string, [x]: readonly Op[], attrs: ReduceAttrs): TraceValue {
    const keepdims = int(attrs.keepdims ? 1 : 0);
    if (attrs.axes === undefined) return t.node(opType, [x.handle.name], { keepdims });
    // ONNX reads empty axes as "all axes"; core as "none".
    if (attrs.axes.length === 0) return t.node('Identity', [x.handle.name]);
    const axes = attrs.axes.map((a) => normalizeAxis(opType, a, x.shape.length));
    // ReduceSum takes axes as an input since opset 13, ReduceMean/ReduceMax since opset 18.
    if (opType === 'ReduceSum' || t.opset >= 18)
      return t.node(opType, [x.handle.name, t.graph.int64(axes)], { keepdims });
    return t.node(opType, [x.handle.name], { axes: ints(axes), keepdims });
  }

  function random(
    opType: 'RandomUniform' | 'RandomNormal',
    attrs: Record<string, OnnxAttribute>,
    values: () => Float64Array,
    out: TensorSpec,
  ): TraceValue {
    if (t.random === 'constant')
      return t.constantValue(values(), out, opType === 'RandomUniform' ? 'random_uniform' : 'random_normal');
    return t.node(opType, [], { ...attrs, dtype: int(ElemType.FLOAT), shape: ints(out.shape as number[]) });
  }

  return {
    Abs: same('Abs'),
    Add: same('Add'),
    Cast: { onnx: ['Cast'], run: ([x], { to }) => t.node('Cast', [x.handle.name], { to: int(elemTypeOf(to)) }) },
    Clip: {
      onnx: ['Clip'],
      run: ([x], { min, max }) => {
        // Bounds are inputs of x's dtype; on int32 fractional bounds round inward, as in core.
        const isInt = x.dtype === 'int32';
        const et = elemTypeOf(x.dtype);
        return t.node('Clip', [
          x.handle.name,
          t.scalar(isInt ? Math.ceil(min) : min, et),
          t.scalar(isInt ? Math.floor(max) : max, et),
        ]);
      },
    },
    Concat: { onnx: ['Concat'], run: (ins, { axis }) => t.node('Concat', names(ins), { axis: int(axis) }) },
    Div: same('Div'), // ONNX Div truncates integers toward zero, as core does.
    Equal: same('Equal'),
    Erf: same('Erf'),
    Exp: same('Exp'),
    Expand: { onnx: ['Expand'], run: ([x], _a, out) => t.node('Expand', [x.handle.name, t.shapes.shape(out.shape)]) },
    Gather: {
      onnx: ['Gather'],
      run: ([data, indices], { axis }) =>
        t.node('Gather', [data.handle.name, indices.handle.name], { axis: int(axis) }),
    },
    Greater: same('Greater'),
    Less: same('Less'),
    Log: same('Log'),
    LogSoftmax: {
      onnx: ['LogSoftmax'],
      run: ([x], { axis }) => t.node('LogSoftmax', [x.handle.name], { axis: int(axis) }),
    },
    MatMul: same('MatMul'),
    Max: same('Max'),
    Min: same('Min'),
    Mul: same('Mul'),
    Neg: same('Neg'),
    Pad: {
      onnx: ['Pad'],
      run: ([x], { pads, value }) =>
        t.node('Pad', [x.handle.name, t.graph.int64(pads), t.scalar(value, elemTypeOf(x.dtype))], {
          mode: string('constant'),
        }),
    },
    Pow: same('Pow'),
    RandomNormal: {
      onnx: ['RandomNormal'],
      run: (_, a, out) =>
        random(
          'RandomNormal',
          { mean: float(a.mean), scale: float(a.scale), seed: float(a.seed) },
          () => normalValues(a.seed, staticSize(out.shape), a.mean, a.scale),
          out,
        ),
    },
    RandomUniform: {
      onnx: ['RandomUniform'],
      run: (_, a, out) =>
        random(
          'RandomUniform',
          { low: float(a.low), high: float(a.high), seed: float(a.seed) },
          () => uniformValues(a.seed, staticSize(out.shape), a.low, a.high),
          out,
        ),
    },
    ReduceMax: { onnx: ['ReduceMax'], run: (ins, attrs) => reduce('ReduceMax', ins, attrs) },
    ReduceMean: { onnx: ['ReduceMean'], run: (ins, attrs) => reduce('ReduceMean', ins, attrs) },
    ReduceSum: { onnx: ['ReduceSum'], run: (ins, attrs) => reduce('ReduceSum', ins, attrs) },
    Relu: same('Relu'),
    Reshape: {
      onnx: ['Reshape'],
      run: ([x], _a, out) => {
        // The resolved output shape, not the attribute: no -1 left but the one we choose, and a 0
        // means an empty dim (allowzero), never "copy the input dim".
        const hasZero = out.shape.some((d) => d === 0);
        return t.node(
          'Reshape',
          [x.handle.name, t.shapes.reshapeTarget(out.shape)],
          hasZero ? { allowzero: int(1) } : {},
        );
      },
    },
    ScatterAdd: {
      onnx: ['Cast', 'Unsqueeze', 'Transpose', 'Expand', 'ScatterND'],
      run: ([indices, updates], { axis }, out) => {
        // ScatterND with reduction "add" onto zeros, with the scattered axis moved to the front:
        // updates [pre, K..., post] -> [K..., pre, post]; data [size, pre, post]; indices K... + [1].
        const k = indices.shape.length;
        const rank = updates.shape.length;
        const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
        const moved = [...range(axis, axis + k), ...range(0, axis), ...range(axis + k, rank)];
        const upd =
          axis === 0 ? updates.handle.name : t.node('Transpose', [updates.handle.name], { perm: ints(moved) }).name;
        const idx64 = t.node('Cast', [indices.handle.name], { to: int(ElemType.INT64) }).name;
        const idx = t.node('Unsqueeze', [idx64, t.graph.int64([-1])]).name;
        const outRank = out.shape.length;
        const front = [out.shape[axis], ...out.shape.slice(0, axis), ...out.shape.slice(axis + 1)];
        const zeros = t.node('Expand', [t.scalar(0, elemTypeOf(out.dtype)), t.shapes.shape(front)]).name;
        const summed = t.node('ScatterND', [zeros, idx, upd], { reduction: string('add') });
        if (axis === 0) return summed;
        const back = [...range(1, axis + 1), 0, ...range(axis + 1, outRank)];
        return t.node('Transpose', [summed.name], { perm: ints(back) });
      },
    },
    Sigmoid: same('Sigmoid'),
    Sign: same('Sign'),
    Slice: {
      onnx: ['Slice'],
      run: ([x], attrs) => {
        const { begin, size } = sliceBounds(x.shape, attrs);
        // Only the axes actually cut; whole (possibly symbolic) axes are left alone.
        const axes = x.shape.flatMap((d, i) => (size[i] >= 0 && (begin[i] !== 0 || size[i] !== d) ? [i] : []));
        if (axes.length === 0) return t.node('Identity', [x.handle.name]);
        const starts = axes.map((a) => begin[a]);
        const ends = axes.map((a) => begin[a] + size[a]);
        return t.node('Slice', [x.handle.name, t.graph.int64(starts), t.graph.int64(ends), t.graph.int64(axes)]);
      },
    },
    Softmax: { onnx: ['Softmax'], run: ([x], { axis }) => t.node('Softmax', [x.handle.name], { axis: int(axis) }) },
    Sqrt: same('Sqrt'),
    Sub: same('Sub'),
    Tanh: same('Tanh'),
    Transpose: {
      onnx: ['Transpose'],
      run: ([x], { perm }) => t.node('Transpose', [x.handle.name], { perm: ints(perm) }),
    },
    Where: {
      onnx: ['Where', 'Cast'],
      run: ([c, x, y], _a, out) => {
        if (out.dtype !== 'bool') return t.node('Where', names([c, x, y]));
        // onnxruntime's Where has no bool kernel: choose between int32 copies, then cast back.
        const asInt = (v: Op) => t.node('Cast', [v.handle.name], { to: int(ElemType.INT32) }).name;
        const chosen = t.node('Where', [c.handle.name, asInt(x), asInt(y)]).name;
        return t.node('Cast', [chosen], { to: int(ElemType.BOOL) });
      },
    },
  };
}
