// The tfjs lowering table: one entry per Ganglion primitive, naming the tfjs kernels it runs (so
// the backend can tell whether tfjs's active backend, e.g. wasm, has them) and building the result
// from tfjs ops. Every entry must give the same numbers as core's float64 reference backend, so
// where tfjs differs from Ganglion (int32 division, batch broadcasting in MatMul, plain-Error index
// checks, softmax on the last axis only, wasm kernels that ignore the dtype) the entry says how it
// bridges the gap. On tfjs cpu, Slice and Transpose are typed-array copies (tfjs cpu's own kernels
// for them walk one element at a time), and MatMul hands its right operand over transposed, the
// layout tfjs cpu's BatchMatMul reads fastest (cpu-copies.ts).
import * as tf from '@tensorflow/tfjs';
import {
  type LoweringTable,
  type Operand,
  type Shape,
  checkIndices,
  normalValues,
  normalizeAxis,
  sliceBounds,
  uniformValues,
} from '@ganglion/core';
import { cpuSlice, cpuTranspose, matMulTransposed } from './cpu-copies.js';

type Op = Operand<tf.Tensor>;

/** The tfjs kernel names a lowering may run; `supports` requires all of them. */
export interface TfjsLowering {
  readonly kernels: readonly string[];
}

/** Core resolves every shape to numbers before a backend sees it. */
function dims(shape: Shape): number[] {
  return shape as number[];
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i);
}

/** `x` broadcast to `shape`; tfjs's broadcastTo clones when nothing changes, so skip it then. */
function broadcast(x: Op, shape: readonly number[]): tf.Tensor {
  return sameDims(dims(x.shape), shape) ? x.handle : tf.broadcastTo(x.handle, [...shape]);
}

/**
 * tfjs's BatchMatMul flattens the batch dims and pairs batch `i` of a with `i % batchA`, which is
 * only right when the flattened batches are equal or one of them is 1: [2, 1] against [3] silently
 * returns a [2, 3, m, n] tensor holding only 3 matrices. Broadcast any other operand first.
 */
function matMulOperand(x: Op, batch: readonly number[]): tf.Tensor {
  const s = dims(x.shape);
  const own = s.slice(0, -2);
  const padded = [...new Array<number>(batch.length - own.length).fill(1), ...own];
  if (own.reduce((a, b) => a * b, 1) === 1 || sameDims(padded, batch)) return x.handle;
  return tf.broadcastTo(x.handle, [...batch, ...s.slice(-2)]);
}

/**
 * a @ b for float operands. tfjs cpu's BatchMatMul reads b along the inner dim with a stride of
 * b's width unless told b is transposed, which is up to 1.4x slower on this workload's products;
 * from a few rows of a on, b goes in transposed (cpu-copies.ts). The products and their order of
 * summation are the same either way.
 */
function product(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'cpu' || a.shape[a.rank - 2] < 16) return tf.matMul(a, b);
  return matMulTransposed(a, b);
}

/**
 * Integer division truncating toward zero. tfjs divides int32 with FloorDiv, which rounds toward
 * -infinity; floor and trunc differ by one exactly when the remainder is non-zero and the operands'
 * signs differ. Staying in int32 keeps it exact beyond float32's 2^24.
 */
function truncDiv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const q = tf.floorDiv(a, b);
  const r = tf.sub(a, tf.mul(q, b));
  // A floor remainder has the sign of b, so sign(r) * sign(a) is -1 exactly when a fix is due.
  const fix = tf.less(tf.mul(tf.sign(r), tf.sign(a)), tf.scalar(0, 'int32'));
  return tf.where(fix, tf.add(q, tf.scalar(1, 'int32')), q);
}

/**
 * int32 matrix product as a broadcast product summed over k: wasm's BatchMatMul is float32-only,
 * and going through float32 would round products beyond 2^24. Numpy broadcasting covers the batch.
 */
function intMatMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.expandDims(a, -1), tf.expandDims(b, -3)), -2);
}

/** Axes for tfjs reductions: undefined means all axes in both. */
function reduceAxes(axes: readonly number[] | undefined): number[] | undefined {
  return axes === undefined ? undefined : [...axes];
}

/** A permutation swapping `axis` with the last axis (its own inverse). */
function swapWithLast(axis: number, rank: number): number[] {
  const perm = range(0, rank);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  return perm;
}

const unary = (kernel: string, f: (x: tf.Tensor) => tf.Tensor) => ({
  kernels: [kernel],
  run: ([x]: readonly Op[]) => f(x.handle),
});

// tfjs's elementwise binary ops broadcast the numpy way already.
const binary = (kernel: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => ({
  kernels: [kernel],
  run: ([a, b]: readonly Op[]) => f(a.handle, b.handle),
});

export const tfjsLowerings: LoweringTable<tf.Tensor, TfjsLowering> = {
  Abs: unary('Abs', tf.abs),
  Add: binary('Add', tf.add),
  Cast: {
    kernels: ['Cast', 'NotEqual'],
    // float -> int32 truncates toward zero in tfjs (a typed-array conversion), as Ganglion wants.
    // -> bool is written out as x != 0 so it does not depend on how each backend casts.
    run: ([x], { to }) => (to === 'bool' ? tf.notEqual(x.handle, tf.scalar(0, x.dtype)) : tf.cast(x.handle, to)),
  },
  Clip: {
    kernels: ['ClipByValue', 'Maximum', 'Minimum'],
    // wasm's ClipByValue reads every input as float32, which scrambles int32; clamp integers to
    // [ceil(min), floor(max)] with Maximum/Minimum, which honour the dtype.
    run: ([x], { min, max }) =>
      x.dtype === 'int32'
        ? tf.minimum(tf.maximum(x.handle, tf.scalar(Math.ceil(min), 'int32')), tf.scalar(Math.floor(max), 'int32'))
        : tf.clipByValue(x.handle, min, max),
  },
  Concat: {
    // A single input makes tfjs clone it, which runs Identity.
    kernels: ['Concat', 'Identity'],
    run: (xs, { axis }) =>
      tf.concat(
        xs.map((x) => x.handle),
        normalizeAxis('Concat', axis, xs[0].shape.length),
      ),
  },
  Div: {
    kernels: ['RealDiv', 'FloorDiv', 'Multiply', 'Sub', 'Sign', 'Less', 'Add', 'Select', 'Identity'],
    run: ([a, b], _, out) => (out.dtype === 'int32' ? truncDiv(a.handle, b.handle) : tf.div(a.handle, b.handle)),
  },
  Equal: binary('Equal', tf.equal),
  Erf: unary('Erf', tf.erf),
  Exp: unary('Exp', tf.exp),
  Expand: {
    kernels: ['Reshape', 'Tile', 'Identity'],
    run: ([x], _, out) => tf.broadcastTo(x.handle, dims(out.shape)),
  },
  Gather: {
    kernels: ['GatherV2'],
    run: ([data, indices], { axis }) => {
      // tfjs asserts indices with a plain Error ("GatherV2: the index value ...") that neither is an
      // IndexError nor names the Ganglion op; check first so every backend raises the same error.
      const ax = normalizeAxis('Gather', axis, data.shape.length);
      checkIndices('Gather', indices.handle.dataSync(), dims(data.shape)[ax], ax);
      return tf.gather(data.handle, indices.handle, ax);
    },
  },
  Greater: binary('Greater', tf.greater),
  Less: binary('Less', tf.less),
  Log: unary('Log', tf.log),
  LogSoftmax: {
    kernels: ['Max', 'Reshape', 'Sub', 'Exp', 'Sum', 'Log'],
    // tf.logSoftmax handles the last axis only; x - max - log(sum(exp(x - max))) works on any axis
    // and never overflows.
    run: ([x], { axis }) => {
      const ax = normalizeAxis('LogSoftmax', axis, x.shape.length);
      const shifted = tf.sub(x.handle, tf.max(x.handle, ax, true));
      return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), ax, true)));
    },
  },
  MatMul: {
    kernels: ['BatchMatMul', 'Reshape', 'Tile', 'Identity', 'ExpandDims', 'Multiply', 'Sum'],
    run: ([a, b], _, out) => {
      if (out.dtype === 'int32') return intMatMul(a.handle, b.handle);
      const sa = dims(a.shape);
      if (b.shape.length === 2 && sa.length > 2) {
        // [batch, time, K] @ [K, N] as one [batch·time, K] @ [K, N] product: wasm runs only
        // unbatched products on its fast (XNNPACK) path, and cpu saves its batch bookkeeping.
        return tf.reshape(product(tf.reshape(a.handle, [-1, sa[sa.length - 1]]), b.handle), dims(out.shape));
      }
      const batch = dims(out.shape).slice(0, -2);
      return product(matMulOperand(a, batch), matMulOperand(b, batch));
    },
  },
  Max: binary('Maximum', tf.maximum),
  Min: binary('Minimum', tf.minimum),
  Mul: binary('Multiply', tf.mul),
  Neg: unary('Neg', tf.neg),
  Pad: {
    kernels: ['PadV2'],
    run: ([x], { pads, value }) => {
      const rank = x.shape.length;
      return tf.pad(
        x.handle,
        range(0, rank).map((i) => [pads[i], pads[i + rank]] as [number, number]),
        value,
      );
    },
  },
  Pow: binary('Pow', tf.pow),
  // Core's counter-based generator, not tfjs's, so every backend draws the same numbers.
  RandomNormal: {
    kernels: [],
    run: (_, a, out) =>
      tf.tensor(
        Float32Array.from(normalValues(a.seed, sizeOf(out.shape), a.mean, a.scale)),
        dims(out.shape),
        'float32',
      ),
  },
  RandomUniform: {
    kernels: [],
    run: (_, a, out) =>
      tf.tensor(Float32Array.from(uniformValues(a.seed, sizeOf(out.shape), a.low, a.high)), dims(out.shape), 'float32'),
  },
  ReduceMax: {
    kernels: ['Max', 'Reshape'],
    run: ([x], { axes, keepdims }) => tf.max(x.handle, reduceAxes(axes), keepdims),
  },
  ReduceMean: {
    kernels: ['Mean', 'Reshape'],
    run: ([x], { axes, keepdims }) => tf.mean(x.handle, reduceAxes(axes), keepdims),
  },
  ReduceSum: {
    kernels: ['Sum', 'Reshape'],
    run: ([x], { axes, keepdims }) => tf.sum(x.handle, reduceAxes(axes), keepdims),
  },
  Relu: unary('Relu', tf.relu),
  Reshape: { kernels: ['Reshape'], run: ([x], _, out) => tf.reshape(x.handle, dims(out.shape)) },
  ScatterAdd: {
    // UnsortedSegmentSum is missing on wasm; ScatterNd exists on both and sums repeated indices.
    kernels: ['ScatterNd', 'Transpose', 'Reshape'],
    run: ([indices, updates], { axis }, out) => {
      const outShape = dims(out.shape);
      const size = outShape[axis];
      checkIndices('ScatterAdd', indices.handle.dataSync(), size, axis);
      const k = indices.shape.length;
      const u = dims(updates.shape);
      // ScatterNd scatters along the leading axis: bring the index dims of `updates` to the front
      // and flatten them (one list of [n, 1] indices also covers a scalar index, which tfjs's
      // shape check rejects as is), scatter into [size, ...rest], then move `size` back to `axis`.
      const front =
        axis === 0
          ? updates.handle
          : tf.transpose(updates.handle, [...range(axis, axis + k), ...range(0, axis), ...range(axis + k, u.length)]);
      const rest = [...u.slice(0, axis), ...u.slice(axis + k)];
      const n = sizeOf(indices.shape);
      const summed = tf.scatterND(tf.reshape(indices.handle, [n, 1]), tf.reshape(front, [n, ...rest]), [size, ...rest]);
      return axis === 0
        ? summed
        : tf.transpose(summed, [...range(1, axis + 1), 0, ...range(axis + 1, outShape.length)]);
    },
  },
  Sigmoid: unary('Sigmoid', tf.sigmoid),
  Sign: unary('Sign', tf.sign),
  Slice: {
    kernels: ['Slice', 'GatherV2'],
    run: ([x], attrs) => {
      const { begin, size } = sliceBounds(x.shape, attrs);
      // tfjs cpu's Slice is fast only for contiguous windows; cpu-copies.ts says why.
      if (tf.getBackend() === 'cpu') return cpuSlice(x.handle, begin, size);
      if (tf.getBackend() !== 'wasm') return tf.slice(x.handle, begin, size);
      // tfjs-wasm's Slice copies the whole input out of the wasm heap on every call (readSync), so
      // slicing one time step of a [batch, time, features] tensor costs the whole tensor. A Gather
      // of the index range runs natively: one gather per sliced axis.
      let y = x.handle;
      const shape = dims(x.shape);
      for (let axis = 0; axis < shape.length; axis++) {
        if (begin[axis] === 0 && size[axis] === shape[axis]) continue;
        const idx = tf.tensor1d(
          Int32Array.from({ length: size[axis] }, (_, i) => begin[axis] + i),
          'int32',
        );
        y = tf.gather(y, idx, axis);
      }
      return y === x.handle ? tf.clone(y) : y;
    },
  },
  Softmax: {
    kernels: ['Softmax', 'Transpose'],
    // tf.softmax only takes the last axis: swap the axis there and back.
    run: ([x], { axis }) => {
      const rank = x.shape.length;
      const ax = normalizeAxis('Softmax', axis, rank);
      if (ax === rank - 1) return tf.softmax(x.handle);
      const perm = swapWithLast(ax, rank);
      return tf.transpose(tf.softmax(tf.transpose(x.handle, perm)), perm);
    },
  },
  Sqrt: unary('Sqrt', tf.sqrt),
  Sub: binary('Sub', tf.sub),
  Tanh: unary('Tanh', tf.tanh),
  Transpose: {
    // tfjs clones rank <= 1 tensors instead of transposing, which runs Identity.
    kernels: ['Transpose', 'Identity'],
    run: ([x], { perm }) =>
      tf.getBackend() === 'cpu' ? cpuTranspose(x.handle, perm) : tf.transpose(x.handle, [...perm]),
  },
  Where: {
    kernels: ['Select', 'Reshape', 'Tile', 'Identity', 'LogicalAnd', 'LogicalOr', 'LogicalNot'],
    run: ([c, x, y], _, out) => {
      // wasm's Select copies 4-byte elements whatever the dtype, so on bool (1-byte) values it
      // returns garbage and writes past the output; pick bools with logic ops instead.
      if (out.dtype === 'bool')
        return tf.logicalOr(tf.logicalAnd(c.handle, x.handle), tf.logicalAnd(tf.logicalNot(c.handle), y.handle));
      const shape = dims(out.shape);
      return tf.where(broadcast(c, shape), broadcast(x, shape), broadcast(y, shape));
    },
  },
};

function sizeOf(shape: Shape): number {
  return dims(shape).reduce((a, b) => a * b, 1);
}
