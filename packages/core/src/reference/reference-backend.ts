// The reference backend: pure TypeScript, float64 for every dtype, obviously-correct loops.
// It is slow and it is the ground truth every other backend is tested against.
import type { Backend, Operand, TensorSpec } from '../backend.js';
import { BackendError } from '../errors.js';
import type { AttrsOf, OpName } from '../ops/registry.js';
import { referenceKernels } from './table.js';

export class ReferenceBackend implements Backend<Float64Array> {
  readonly name = 'reference';
  private live = 0;

  fromValues(values: ArrayLike<number>, _spec: TensorSpec): Float64Array {
    this.live++;
    return Float64Array.from(values);
  }

  readSync(handle: Float64Array): Float64Array {
    return handle.slice();
  }

  dispose(_handle: Float64Array): void {
    this.live--;
  }

  execute<K extends OpName>(
    op: K,
    inputs: readonly Operand<Float64Array>[],
    attrs: AttrsOf<K>,
    out: TensorSpec,
  ): Float64Array {
    const kernel = referenceKernels[op];
    if (!kernel) throw new BackendError(`reference backend: unknown op "${String(op)}"`);
    const r = (kernel.run as (i: readonly Operand<Float64Array>[], a: unknown, o: TensorSpec) => Float64Array)(
      inputs,
      attrs,
      out,
    );
    this.live++;
    return r;
  }

  supports(op: OpName): boolean {
    return op in referenceKernels;
  }

  numTensors(): number {
    return this.live;
  }
}
