// The sessions of a compiled trainer and the onnxruntime tensors it holds: a cache of traced
// models and their InferenceSessions by key (input signature, slot layout, taps), the default
// session options, and helpers for slot layouts and scalar feeds.
import { type Backend, type Tensor, type TensorSpec, tensor } from '@ganglion/core';
import type * as ort from 'onnxruntime-common';
import { currentOrt } from '../ort-runtime.js';
import { createSession } from '../ort-tensors.js';
import type { SlotSpecs, TrainStepModel } from './trace-train-step.js';

export interface SessionEntry {
  readonly model: TrainStepModel;
  readonly session: ort.InferenceSession;
}

/**
 * The session options a compiled step gets unless told otherwise: every graph optimization, two
 * intra-op threads, sequential execution, and no memory pattern, only the arena (peak RSS ≈315 MB
 * instead of ≈390 MB at the same speed, char-LSTM). Whether the threads spin is the binding's
 * (`useOrt`'s `spinThreads`).
 */
export const DEFAULT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableMemPattern: false,
};

/**
 * Split mode's session options: the defaults without onnxruntime's memory arena. The arena keeps
 * what a gradients run grew to (activations) after the run, when the gradients and the optimizer
 * state are alive too; without it freed activations go back to malloc, which the next
 * allocations reuse. Measured on GPT shapes (2 threads, peak RSS of split steps): 85M parameters
 * 2.79 → 2.60 GB, 25M 1.37 → 1.18 GB, 4.8M 707 → 687 MB, at the same CPU time a step (±5%).
 */
export const SPLIT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  ...DEFAULT_SESSION_OPTIONS,
  enableCpuMemArena: false,
};

/** Traced models and their sessions by key; a failed trace is not cached (the next call retries). */
export class SessionCache {
  private readonly entries = new Map<string, Promise<SessionEntry>>();

  constructor(private readonly options: ort.InferenceSession.SessionOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, trace: () => TrainStepModel): Promise<SessionEntry> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = (async () => {
        const model = trace();
        const session = await createSession(model.bytes, `the compiled training step (${model.part})`, this.options);
        return { model, session };
      })();
      entry.catch(() => this.entries.delete(key));
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Release the sessions whose key `which` picks. */
  async release(which: (key: string) => boolean): Promise<void> {
    for (const [key, entry] of [...this.entries]) {
      if (!which(key)) continue;
      this.entries.delete(key);
      await (await entry.catch(() => undefined))?.session.release();
    }
  }
}

/** The feeds a session reads (an apply graph without clipping by norm has no norm input). */
export function onlyInputsOf(
  session: ort.InferenceSession,
  input: Record<string, ort.Tensor>,
): Record<string, ort.Tensor> {
  return Object.fromEntries(session.inputNames.filter((n) => n in input).map((n) => [n, input[n]]));
}

export function scalarTensor(x: number): ort.Tensor {
  return new (currentOrt().Tensor)('float32', Float32Array.of(x), []);
}

/** Shapes of the slots held. */
export function specsOf(slots: ReadonlyMap<string, ort.Tensor>): Map<string, TensorSpec> {
  return new Map([...slots].map(([name, t]) => [name, { shape: t.dims.map(Number), dtype: 'float32' as const }]));
}

/** The held slots of `keys`, per parameter. */
export function slotSpecsOf(slots: ReadonlyMap<string, ort.Tensor>, keys: readonly string[]): SlotSpecs {
  const wanted = new Set(keys);
  return groupSlots(new Map([...specsOf(slots)].filter(([name]) => wanted.has(name.slice(0, name.lastIndexOf('.'))))));
}

/** `<key>.<slot>` specs as slots per parameter key. */
export function groupSlots(specs: ReadonlyMap<string, TensorSpec>): Map<string, Record<string, TensorSpec>> {
  const slots = new Map<string, Record<string, TensorSpec>>();
  for (const [name, spec] of specs) {
    const i = name.lastIndexOf('.');
    slots.set(name.slice(0, i), { ...slots.get(name.slice(0, i)), [name.slice(i + 1)]: spec });
  }
  return slots;
}

/** Which slots exist, with their shapes, as a string (sessions are cached per layout). */
export function layoutOf(slots: ReadonlyMap<string, TensorSpec>): string {
  return [...slots]
    .map(([name, s]) => `${name}:${s.shape.join('x')}`)
    .sort()
    .join(',');
}

/** A Ganglion tensor of the values (backends copy what `tensor` is given, so later in-place updates do not reach it). */
export function fromOrt(t: ort.Tensor, backend: Backend): Tensor {
  return tensor(t.data as Float32Array, t.dims.map(Number), 'float32', backend);
}

/** Above this many bytes of weights, split mode collects garbage before each phase (see node/collect-garbage.ts). */
export const COLLECT_ABOVE_BYTES = 64 * 2 ** 20;
