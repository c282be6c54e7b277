// TfjsBackend: Ganglion's Backend interface over TensorFlow.js (its cpu or wasm backend). It owns
// tensor allocation and disposal, kernel availability (`supports`) and turning tfjs failures into
// core's typed errors; the per-primitive work lives in the lowering table (lowerings.ts).
import * as tf from '@tensorflow/tfjs';
import {
  type Backend,
  BackendError,
  GanglionError,
  type AttrsOf,
  type OpName,
  type Operand,
  type TensorData,
  type TensorSpec,
  UnsupportedOpError,
  formatShape,
} from '@ganglion/core';
import { tfjsLowerings } from './lowerings.js';

export type TfjsFlavor = 'cpu' | 'wasm';

type Run = (inputs: readonly Operand<tf.Tensor>[], attrs: unknown, out: TensorSpec) => tf.Tensor;

const KERNEL_NOT_REGISTERED = /Kernel '([^']+)' not registered/;

/**
 * Turn a tfjs "Kernel 'X' not registered" error into an UnsupportedOpError naming the primitive;
 * other errors pass through unchanged. Exported for tests.
 */
export function translateTfjsError(op: OpName, backend: string, flavor: TfjsFlavor, error: unknown): unknown {
  if (error instanceof GanglionError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const missing = KERNEL_NOT_REGISTERED.exec(message);
  if (missing) return new UnsupportedOpError(op, backend, `tfjs kernel(s) ${missing[1]} not registered for ${flavor}`);
  return error;
}

export class TfjsBackend implements Backend<tf.Tensor> {
  readonly name: string;

  private constructor(readonly flavor: TfjsFlavor) {
    this.name = `tfjs-${flavor}`;
  }

  /**
   * Switch tfjs to `flavor` and wait until it is ready. tfjs has one global active backend, so
   * creating a backend of the other flavor makes this one refuse to run (see `assertActive`).
   */
  static async create(flavor: TfjsFlavor = 'cpu'): Promise<TfjsBackend> {
    if (flavor !== 'cpu' && flavor !== 'wasm')
      throw new BackendError(`TfjsBackend.create: unknown flavor "${String(flavor)}" (expected cpu or wasm)`);
    // Importing the package registers the wasm backend with tfjs; cpu users never load it.
    if (flavor === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    // Production mode: no per-op debug checks, and no "install tfjs-node" banner on stderr (that
    // package needs a native download this project avoids on purpose). Ganglion checks shapes itself.
    tf.env().set('PROD', true);
    if (!(await tf.setBackend(flavor)))
      throw new BackendError(`TfjsBackend.create: tfjs could not initialize its ${flavor} backend`);
    await tf.ready();
    return new TfjsBackend(flavor);
  }

  fromValues(values: ArrayLike<number>, spec: TensorSpec): tf.Tensor {
    this.assertActive('fromValues');
    const shape = spec.shape as number[];
    if (spec.dtype === 'float32') return tf.tensor(Float32Array.from(values), shape, 'float32');
    if (spec.dtype === 'int32') return tf.tensor(Int32Array.from(values), shape, 'int32');
    return tf.tensor(
      Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)),
      shape,
      'bool',
    );
  }

  readSync(handle: tf.Tensor): TensorData {
    // tfjs cpu hands out its own storage; a copy keeps callers from mutating a live tensor.
    return (handle.dataSync() as TensorData).slice();
  }

  dispose(handle: tf.Tensor): void {
    handle.dispose();
  }

  numTensors(): number {
    return tf.memory().numTensors;
  }

  supports(op: OpName): boolean {
    return this.missingKernels(op).length === 0;
  }

  execute<K extends OpName>(
    op: K,
    inputs: readonly Operand<tf.Tensor>[],
    attrs: AttrsOf<K>,
    out: TensorSpec,
  ): tf.Tensor {
    this.assertActive(op);
    const missing = this.missingKernels(op);
    if (missing.length > 0) {
      throw new UnsupportedOpError(
        op,
        this.name,
        `tfjs kernel(s) ${missing.join(', ')} not registered for ${this.flavor}`,
      );
    }
    const run = tfjsLowerings[op].run as Run;
    let result: tf.Tensor;
    try {
      result = tf.tidy(() => {
        const r = run(inputs, attrs, out);
        // A lowering may hand back an input unchanged; core disposes each handle once, so the
        // output must be a tensor of its own.
        return inputs.some((x) => x.handle === r) ? r.clone() : r;
      });
    } catch (e) {
      throw translateTfjsError(op, this.name, this.flavor, e);
    }
    const shapeOk = result.shape.length === out.shape.length && result.shape.every((d, i) => d === out.shape[i]);
    if (!shapeOk || result.dtype !== out.dtype) {
      const got = `${formatShape(result.shape)} ${result.dtype}`;
      result.dispose();
      throw new BackendError(
        `${op}: backend "${this.name}" produced ${got}, expected ${formatShape(out.shape)} ${out.dtype}`,
      );
    }
    return result;
  }

  /** Kernels of `op`'s lowering that this flavor of tfjs does not have registered. */
  private missingKernels(op: OpName): string[] {
    const lowering = tfjsLowerings[op];
    if (!lowering) throw new BackendError(`${String(op)}: backend "${this.name}" has no lowering for it`);
    return lowering.kernels.filter((k) => tf.getKernel(k, this.flavor) === undefined);
  }

  /** tfjs runs everything on one global backend; refuse to run on another flavor than ours. */
  private assertActive(what: string): void {
    const active = tf.getBackend();
    if (active !== this.flavor) {
      throw new BackendError(
        `${what}: backend "${this.name}" needs tfjs's active backend to be ${this.flavor}, but it is ${active}; tfjs has one global backend, so create one TfjsBackend flavor at a time`,
      );
    }
  }
}
