// Data movement on tfjs's cpu backend. tfjs-backend-cpu's Slice (its non-contiguous path) and
// Transpose kernels walk the output one element at a time through freshly allocated index arrays:
// slicing one time step out of a [32, 64, 1024] tensor takes ~25 ms, and transposing a [256, 1024]
// weight ~15 ms. Copying each contiguous run with TypedArray.set, or striding through the input
// with a running offset (in tiles for matrices), does the same in 0.4 and 2 ms. The values are
// exactly the input's; only the walk differs. Its BatchMatMul is fastest with the right
// operand transposed, which `matMulTransposed` arranges, reusing the transposes made here.
import * as tf from '@tensorflow/tfjs';

type Values = Float32Array | Int32Array | Uint8Array;

/** tfjs cpu keeps float32 and int32 values in the typed array it hands out (no copy). */
function valuesOf(x: tf.Tensor): Values {
  return x.dataSync() as Values;
}

function empty(dtype: tf.DataType, size: number): Values {
  if (dtype === 'float32') return new Float32Array(size);
  if (dtype === 'int32') return new Int32Array(size);
  return new Uint8Array(size);
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let a = shape.length - 2; a >= 0; a--) strides[a] = strides[a + 1] * shape[a + 1];
  return strides;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The matrices cpuTranspose made, and what they are the transpose of (both immutable). A product
 * with such a matrix reads the original with tfjs's transposeB instead (see `matMulTransposed`).
 */
const transposes = new WeakMap<tf.Tensor, tf.Tensor>();

/**
 * a @ b with b given as its transpose [.., N, K]: the layout tfjs cpu's BatchMatMul reads fastest,
 * both operands along K. When b is itself a transposed copy made here, its original is that
 * layout already; otherwise a transposed copy is made (K·N copies against M·K·N multiply-adds).
 */
export function matMulTransposed(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const original = transposes.get(b);
  if (original && !original.isDisposed) return tf.matMul(a, original, false, true);
  const perm = b.shape.map((_, i) => i);
  perm[b.rank - 2] = b.rank - 1;
  perm[b.rank - 1] = b.rank - 2;
  return tf.matMul(a, cpuTranspose(b, perm), false, true);
}

/**
 * x[begin : begin + size] on every axis. Axes after the last cut one are whole, so each step of
 * the cut axes is one contiguous run of the input.
 */
export function cpuSlice(x: tf.Tensor, begin: readonly number[], size: readonly number[]): tf.Tensor {
  const shape = x.shape;
  const rank = shape.length;
  const out = empty(x.dtype, sizeOf(size));
  if (out.length === 0) return tf.tensor(out, [...size], x.dtype);
  let last = rank - 1;
  while (last > 0 && begin[last] === 0 && size[last] === shape[last]) last--;
  const strides = stridesOf(shape);
  const run = size[last] * strides[last];
  const values = valuesOf(x);
  const outer = size.slice(0, last);
  const index = new Array<number>(last).fill(0);
  const count = sizeOf(outer);
  for (let n = 0, dst = 0; n < count; n++, dst += run) {
    let src = begin[last] * strides[last];
    for (let a = 0; a < last; a++) src += (begin[a] + index[a]) * strides[a];
    if (run >= 16) out.set(values.subarray(src, src + run), dst);
    else for (let i = 0; i < run; i++) out[dst + i] = values[src + i];
    for (let a = last - 1; a >= 0 && ++index[a] === outer[a]; a--) index[a] = 0;
  }
  return tf.tensor(out, [...size], x.dtype);
}

/**
 * Transpose with `perm`: the output in order, the input read with the permuted strides; matrices
 * (perm swapping the last two axes only, as MatMul's gradient does) in 32 x 32 tiles, which keeps
 * the strided reads in cache.
 */
export function cpuTranspose(x: tf.Tensor, perm: readonly number[]): tf.Tensor {
  const shape = x.shape;
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const out = empty(x.dtype, sizeOf(shape));
  if (out.length === 0 || rank === 0) return tf.tensor(out.length ? valuesOf(x).slice() : out, outShape, x.dtype);
  if (rank >= 2 && perm.every((p, a) => (a < rank - 2 ? p === a : p === 2 * rank - 3 - a))) {
    transposeMatrices(valuesOf(x), out, shape[rank - 2], shape[rank - 1]);
    const y = tf.tensor(out, outShape, x.dtype);
    transposes.set(y, x);
    return y;
  }
  const strides = stridesOf(shape);
  const from = perm.map((p) => strides[p]); // input stride of each output axis
  const inner = outShape[rank - 1];
  const step = from[rank - 1];
  const values = valuesOf(x);
  const index = new Array<number>(rank - 1).fill(0);
  const count = out.length / inner;
  for (let n = 0, dst = 0; n < count; n++) {
    let src = 0;
    for (let a = 0; a < rank - 1; a++) src += index[a] * from[a];
    for (let i = 0; i < inner; i++, src += step) out[dst++] = values[src];
    for (let a = rank - 2; a >= 0 && ++index[a] === outShape[a]; a--) index[a] = 0;
  }
  return tf.tensor(out, outShape, x.dtype);
}

/**
 * Each [rows, cols] matrix of `values` (one after another) into `out` as [cols, rows], in tiles;
 * within a tile, each output row is written in order while the reads stride through the input.
 */
function transposeMatrices(values: Values, out: Values, rows: number, cols: number): void {
  const T = 32;
  for (let base = 0; base < values.length; base += rows * cols) {
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(c0 + T, cols);
      for (let r0 = 0; r0 < rows; r0 += T) {
        const r1 = Math.min(r0 + T, rows);
        for (let c = c0; c < c1; c++) {
          for (let r = r0, o = base + c * rows + r0, i = base + r0 * cols + c; r < r1; r++, o++, i += cols)
            out[o] = values[i];
        }
      }
    }
  }
}
