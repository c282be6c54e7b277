// The Tensor: an immutable handle on a backend, with its resolved shape and dtype.
// Tensors are created by ops and by the creation functions in `creation.ts`, never directly.

import type { Backend, TensorData } from './backend.js';
import type { DType } from './dtype.js';
import { BackendError } from './errors.js';
import { type Shape, formatShape, staticSize } from './shape/dim.js';

let nextId = 0;

export class Tensor {
  /** Unique id, used by the tape to find this tensor's gradient. */
  readonly id = nextId++;
  private disposed = false;
  /** Kept tensors survive the `tidy` scope they were created in. */
  kept = false;

  constructor(
    readonly handle: unknown,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly backend: Backend,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements (throws ShapeError on a symbolic shape). */
  get size(): number {
    return staticSize(this.shape, 'tensor');
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Values, row-major, in the backend's native precision. */
  dataSync(): TensorData {
    this.assertLive();
    return this.backend.readSync(this.handle, this);
  }

  /** Values as plain numbers, row-major. */
  toArray(): number[] {
    return Array.from(this.dataSync());
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new BackendError(
        `item(): tensor of shape ${formatShape(this.shape)} has ${this.size} elements, expected 1`,
      );
    return this.dataSync()[0];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose(this.handle);
  }

  assertLive(): void {
    if (this.disposed)
      throw new BackendError(`tensor #${this.id} ${formatShape(this.shape)} ${this.dtype} was already disposed`);
  }

  toString(): string {
    return `Tensor#${this.id}(${formatShape(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}
