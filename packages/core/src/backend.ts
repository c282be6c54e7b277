// The backend interface: a backend is an adapter that allocates, reads and frees tensors and
// executes primitives. Shapes and dtypes are resolved in core before a backend sees them.

import type { DType } from './dtype.js';
import type { Shape } from './shape/dim.js';
import type { AttrsOf, OpName } from './ops/registry.js';

export interface TensorSpec {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** What a backend reads back: float64 on the reference backend, float32/int32/bool on tfjs. */
export type TensorData = Float64Array | Float32Array | Int32Array | Uint8Array;

/** A tensor as a backend sees it: its own handle plus the resolved spec. */
export interface Operand<H> extends TensorSpec {
  readonly handle: H;
}

/** What a backend can do beyond running primitives on concrete tensors. Absent flags are false. */
export interface BackendCapabilities {
  /** Accepts symbolic dims (`batch`, `time`) in shapes: a tracer that writes a graph. */
  readonly symbolicShapes?: boolean;
  /**
   * A Transpose feeding a MatMul costs nothing: the graph optimizer folds it into the product
   * (onnxruntime's MatMul/Gemm with a transposed operand), so layers should transpose weights,
   * never activations.
   */
  readonly foldsTranspose?: boolean;
}

export interface Backend<H = unknown> {
  /** A short name used in errors, e.g. 'reference', 'tfjs-cpu', 'tfjs-wasm'. */
  readonly name: string;
  readonly capabilities?: BackendCapabilities;
  /** Allocate a tensor holding `values` (row-major). */
  fromValues(values: ArrayLike<number>, spec: TensorSpec): H;
  /** Read a tensor's values synchronously (row-major). */
  readSync(handle: H, spec: TensorSpec): TensorData;
  /** Free a tensor's memory. Called at most once per handle. */
  dispose(handle: H): void;
  /** Run one primitive. `out` is the resolved output spec. */
  execute<K extends OpName>(op: K, inputs: readonly Operand<H>[], attrs: AttrsOf<K>, out: TensorSpec): H;
  /** Whether this backend can run a primitive (e.g. the kernel exists on tfjs wasm). */
  supports(op: OpName): boolean;
  /** Live tensors this backend holds, for leak checks. */
  numTensors(): number;
}

/**
 * One exhaustive lowering table per backend: a missing primitive is a compile error.
 * Each entry turns resolved operands and attributes into the backend's own handle.
 */
export type LoweringTable<H, Extra = object> = {
  readonly [K in OpName]: Extra & {
    readonly run: (inputs: readonly Operand<H>[], attrs: AttrsOf<K>, out: TensorSpec) => H;
  };
};
