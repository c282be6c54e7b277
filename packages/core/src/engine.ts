// The engine: the current backend, `tidy` scopes that free intermediates, and the tapes that
// record primitives for autodiff. `apply` is the one door every primitive goes through.

import type { Backend, Operand, TensorSpec } from './backend.js';
import { AttributeError, BackendError, ShapeError } from './errors.js';
import type { Primitive } from './ops/primitive.js';
import { ReferenceBackend } from './reference/reference-backend.js';
import { formatShape, isStaticShape } from './shape/dim.js';
import { Tensor } from './tensor.js';

/** One recorded primitive application: any primitive, with the attributes of its own type. */
/* eslint-disable @typescript-eslint/no-explicit-any -- a tape mixes primitives whose attribute types differ; each entry pairs a primitive with its own attrs */
export interface TapeEntry {
  readonly prim: Primitive<string, any>;
  readonly inputs: readonly Tensor[];
  readonly attrs: any;
  readonly output: Tensor;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Anything that listens to primitive applications (a Tape). */
export interface Recorder {
  /** Called for every primitive applied while the recorder is active. */
  record(entry: TapeEntry): void;
}

class Engine {
  backend: Backend | undefined;
  readonly scopes: Set<Tensor>[] = [];
  readonly recorders: Recorder[] = [];
  recordingPaused = 0;

  getBackend(): Backend {
    this.backend ??= new ReferenceBackend();
    return this.backend;
  }

  track(t: Tensor): Tensor {
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.add(t);
    return t;
  }
}

const engine = new Engine();

/** The backend new tensors are created on when no input decides it. */
export function getBackend(): Backend {
  return engine.getBackend();
}

export function setBackend(backend: Backend): void {
  engine.backend = backend;
}

/** Run `fn` with `backend` as the current backend, then restore the previous one. */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const prev = engine.backend;
  engine.backend = backend;
  try {
    return fn();
  } finally {
    engine.backend = prev;
  }
}

/** Wrap a backend handle as a Tensor tracked by the current `tidy` scope. */
export function makeTensor(handle: unknown, spec: TensorSpec, backend: Backend): Tensor {
  return engine.track(new Tensor(handle, spec.shape, spec.dtype, backend));
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value === null || value === undefined) return;
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, into, depth + 1);
  else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  }
}

/**
 * Run `fn`, then dispose every tensor created inside it except those it returns (in an array,
 * plain object or Map) and those marked with `keep`. Like `tf.tidy`.
 *
 *   const y = tidy(() => relu(add(matMul(x, w), b)));   // intermediates freed
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  engine.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    engine.scopes.pop();
    for (const t of scope) if (!t.kept) t.dispose();
    throw e;
  }
  engine.scopes.pop();
  const out = new Set<Tensor>();
  collectTensors(result, out);
  for (const t of scope) if (!out.has(t) && !t.kept) t.dispose();
  const parent = engine.scopes[engine.scopes.length - 1];
  if (parent) for (const t of out) if (scope.has(t)) parent.add(t);
  return result;
}

/** Mark a tensor to survive the enclosing `tidy` scopes. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

/** Dispose every tensor in a value (tensor, array, object, Map). */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collectTensors(value, all);
  for (const t of all) t.dispose();
}

/** Start sending primitive applications to `recorder` (a Tape). */
export function pushRecorder(recorder: Recorder): void {
  engine.recorders.push(recorder);
}

export function popRecorder(recorder: Recorder): void {
  const i = engine.recorders.lastIndexOf(recorder);
  if (i >= 0) engine.recorders.splice(i, 1);
}

/** Run `fn` without recording anything on any tape (used while replaying a tape backwards). */
export function withoutRecording<T>(fn: () => T): T {
  engine.recordingPaused++;
  try {
    return fn();
  } finally {
    engine.recordingPaused--;
  }
}

/**
 * Apply a primitive: check attributes, resolve dtype and shape with the primitive's rules, run it
 * on the inputs' backend (or the current one), and record it on the active tapes.
 */
export function apply<K extends string, A>(prim: Primitive<K, A>, inputs: readonly Tensor[], attrs: A): Tensor {
  if (!prim.variadic && inputs.length !== prim.inputs.length) {
    throw new AttributeError(
      `${prim.name}: expected ${prim.inputs.length} inputs (${prim.inputs.join(', ')}), got ${inputs.length}`,
    );
  }
  if (prim.variadic && inputs.length === 0) throw new AttributeError(`${prim.name}: expected at least one input`);
  const backend = inputs.length > 0 ? inputs[0].backend : engine.getBackend();
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (!(t instanceof Tensor)) {
      throw new AttributeError(
        `${prim.name}: input "${prim.inputs[i] ?? prim.inputs[0]}" is not a Tensor (got ${typeof t})`,
      );
    }
    t.assertLive();
    if (t.backend !== backend) {
      throw new BackendError(
        `${prim.name}: inputs live on different backends (${backend.name} and ${t.backend.name}); move them to one backend first`,
      );
    }
  }
  prim.checkAttrs?.(attrs);
  const dtype = prim.dtype(inputs, attrs);
  const shape = prim.shape(inputs, attrs);
  const out: TensorSpec = { shape, dtype };
  if (!isStaticShape(shape) && !backend.capabilities?.symbolicShapes) {
    throw new ShapeError(
      `${prim.name}: output shape ${formatShape(shape)} is symbolic; backend "${backend.name}" needs concrete shapes`,
    );
  }
  const handle = backend.execute(
    prim.name as never,
    inputs as unknown as readonly Operand<unknown>[],
    attrs as never,
    out,
  );
  const result = makeTensor(handle, out, backend);
  if (engine.recorders.length > 0 && engine.recordingPaused === 0) {
    const entry: TapeEntry = { prim, inputs, attrs, output: result };
    for (const r of engine.recorders) r.record(entry);
  }
  return result;
}
