// The reference backend's lowering table: one line per primitive, exhaustive by type.
import type { LoweringTable } from '../backend.js';
import { normalValues, uniformValues } from '../random/prng.js';
import { binary, erf, unary, where } from './kernels/elementwise.js';
import { gather, scatterAdd } from './kernels/indexing.js';
import { concat, copy, expand, pad, slice, transpose } from './kernels/layout.js';
import { matMul } from './kernels/matmul.js';
import { logSoftmax, reduceMax, reduceMean, reduceSum, softmax } from './kernels/reduce.js';
import { type Buf, dims, sizeOfDims } from './kernels/util.js';

const sizeOf = (shape: readonly unknown[]) => sizeOfDims(dims(shape as never));

export const referenceKernels: LoweringTable<Buf> = {
  Abs: { run: unary(Math.abs) },
  Add: { run: binary((a, b) => a + b) },
  Cast: {
    run: ([x], { to }) =>
      // NaN has no int32: it casts to 0, and out-of-range values wrap, as on tfjs and in C.
      to === 'float32'
        ? x.handle.slice()
        : to === 'int32'
          ? x.handle.map((v) => (Number.isNaN(v) ? 0 : Math.trunc(v) | 0))
          : x.handle.map((v) => (v !== 0 ? 1 : 0)),
  },
  Clip: {
    // On int32, fractional bounds round inward, so the result stays an integer.
    run: ([x], { min, max }, out) => {
      const [lo, hi] = out.dtype === 'int32' ? [Math.ceil(min), Math.floor(max)] : [min, max];
      return x.handle.map((v) => Math.min(Math.max(v, lo), hi));
    },
  },
  Concat: { run: concat },
  Div: {
    run: (ins, attrs, out) =>
      binary(out.dtype === 'int32' ? (a, b) => Math.trunc(a / b) : (a, b) => a / b)(ins, attrs, out),
  },
  Equal: { run: binary((a, b) => (a === b ? 1 : 0)) },
  Erf: { run: unary(erf) },
  Exp: { run: unary(Math.exp) },
  Expand: { run: expand },
  Gather: { run: gather },
  Greater: { run: binary((a, b) => (a > b ? 1 : 0)) },
  Less: { run: binary((a, b) => (a < b ? 1 : 0)) },
  Log: { run: unary(Math.log) },
  LogSoftmax: { run: logSoftmax },
  MatMul: { run: matMul },
  Max: { run: binary((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b))) },
  Min: { run: binary((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b))) },
  Mul: { run: binary((a, b) => a * b) },
  Neg: { run: unary((x) => -x) },
  Pad: { run: pad },
  Pow: { run: binary(Math.pow) },
  RandomNormal: { run: (_, a, out) => normalValues(a.seed, sizeOf(out.shape), a.mean, a.scale) },
  RandomUniform: { run: (_, a, out) => uniformValues(a.seed, sizeOf(out.shape), a.low, a.high) },
  ReduceMax: { run: reduceMax },
  ReduceMean: { run: reduceMean },
  ReduceSum: { run: reduceSum },
  Relu: { run: unary((x) => (x > 0 || Number.isNaN(x) ? x : 0)) },
  Reshape: { run: copy },
  ScatterAdd: { run: scatterAdd },
  Sigmoid: { run: unary((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))) },
  Sign: { run: unary((x) => Math.sign(x)) },
  Slice: { run: slice },
  Softmax: { run: softmax },
  Sqrt: { run: unary(Math.sqrt) },
  Sub: { run: binary((a, b) => a - b) },
  Tanh: { run: unary(Math.tanh) },
  Transpose: { run: transpose },
  Where: { run: where },
};
