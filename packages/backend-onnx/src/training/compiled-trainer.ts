// CompiledTrainer: a whole training step (forward, loss, backward, global norm, clipping,
// optimizer update) as one ONNX graph, run by onnxruntime-node. The step is traced once per input
// signature (traceTrainStep) and its InferenceSession cached. Weights and optimizer slots live
// between steps as onnxruntime tensors: each step feeds the current ones and keeps the new ones
// the graph returns; the learning rate and the optimizer's step scalars (stepScalars) are fed
// each step, so schedules and bias corrections are never baked in. `paramStore`, `optimizerState`
// and `syncTo` bring the state back for checkpoints, generation or eager training.
//
//   const compiled = compileTrainStep(runtime, trainer);   // the trainer's optimizer, clipping, schedule, lr
//   for (const batch of batches) console.log((await compiled.step(batch)).loss);
//   compiled.syncTo(runtime.params, trainer);               // then trainer.save(dir, runtime)
import {
  type Backend,
  type ClippingPolicy,
  type Graph,
  type LrSchedule,
  type Optimizer,
  type OptimizerState,
  ParamStore,
  type Runtime,
  SlotOptimizer,
  type Tensor,
  type TensorSpec,
  ConfigError,
  TrainingError,
  getBackend,
  tensor,
} from '@ganglion/core';
import { type FeedValue, createSession, feedSignature, ort, toOrtTensor } from '../ort-tensors.js';
import { type FeedSignature, type TrainStepModel, traceTrainStep } from './trace-train-step.js';

/** What a compiled step needs of the training setup (a core `Trainer` has all of it). */
export interface TrainingSetup {
  readonly optimizer: Optimizer;
  readonly clipping: ClippingPolicy;
  readonly schedule: LrSchedule;
  /** Base learning rate, scaled by the schedule (a Trainer has it as `options.lr`). */
  readonly lr?: number;
  readonly options?: { readonly lr: number };
  /**
   * Updates already applied (a Trainer's `step` after a resume; default 0). The compiled trainer
   * counts on from here; `syncTo` writes its count back.
   */
  readonly step?: number;
}

export interface CompileOptions {
  /** The graph output to minimize (default 'loss'). */
  readonly loss?: string;
  /** ONNX opset of the traced step (default 17). */
  readonly opset?: number;
  /** onnxruntime session options (default: DEFAULT_SESSION_OPTIONS). */
  readonly sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Rewrite per-time-step gradient sums into single ops (default true; off only to compare). */
  readonly rewrite?: boolean;
}

export interface CompiledStepResult {
  /** Updates applied so far, this one included. */
  readonly step: number;
  readonly loss: number;
  /** Global L2 norm of the gradients before clipping. */
  readonly gradNorm: number;
  readonly lr: number;
}

interface Entry {
  readonly model: TrainStepModel;
  readonly session: ort.InferenceSession;
}

/**
 * The session options a compiled step gets unless told otherwise: every graph optimization, two
 * intra-op threads, sequential execution, and two departures from onnxruntime's defaults measured
 * on the reference workload (char-LSTM, 2 cores shared with other jobs):
 * - intra-op threads do not spin while waiting: a step has ~6,400 nodes, mostly small, and
 *   spinning threads fight the other processes for the cores (median 162 ms a step instead of
 *   346 ms side by side, and less CPU time);
 * - no memory pattern, only the arena: peak RSS ≈315 MB instead of ≈390 MB at the same speed.
 */
export const DEFAULT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableMemPattern: false,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

/**
 * A compiled training step for a graph and its parameters.
 *
 *   const compiled = new CompiledTrainer(graph, params, { optimizer, clipping, schedule, lr: 2e-3 });
 *   const { loss, gradNorm } = await compiled.step({ ids, labels });
 */
export class CompiledTrainer {
  /** Updates applied so far (drives the schedule). */
  private steps: number;
  /** The optimizer's own update count (the `t` of its step scalars). */
  private optimizerSteps: number;
  private readonly baseLr: number;
  private readonly optimizer: SlotOptimizer;
  private readonly params = new Map<string, ort.Tensor>();
  /** Optimizer slots by `<param key>.<slot>`. */
  private slots = new Map<string, ort.Tensor>();
  /** Sessions by input signature and slot layout. */
  private readonly sessions = new Map<string, Promise<Entry>>();

  constructor(
    readonly graph: Graph,
    params: ParamStore,
    private readonly setup: TrainingSetup,
    private readonly options: CompileOptions = {},
  ) {
    if (!(setup.optimizer instanceof SlotOptimizer) || !setup.optimizer.stepScalars) {
      throw new ConfigError(`optimizer "${setup.optimizer.name}" cannot be compiled: a compiled training step needs a SlotOptimizer that declares stepScalars(lr, t)`);
    }
    this.optimizer = setup.optimizer;
    const lr = setup.lr ?? setup.options?.lr;
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new ConfigError(`learning rate must be a finite number > 0, got ${String(lr)}`);
    this.baseLr = lr;
    this.steps = setup.step ?? 0;
    const state = this.optimizer.getState();
    this.optimizerSteps = Number(state.meta.step ?? 0);
    for (const key of params.keys()) this.params.set(key, toOrtTensor(key, params.get(key)));
    for (const [name, t] of state.tensors) this.slots.set(name, toOrtTensor(name, t));
  }

  /** Updates applied so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Number of cached sessions (one per input signature and optimizer-state layout). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * One training step on `feeds` (Ganglion tensors, or typed arrays with shapes). A non-finite
   * loss or gradient norm raises TrainingError and leaves the weights and slots as they were.
   */
  async step(feeds: Readonly<Record<string, FeedValue>>): Promise<CompiledStepResult> {
    const { model, session } = await this.entry(feedSignature(this.graph, feeds), specsOf(this.slots));
    const next = this.steps + 1;
    const t = this.optimizerSteps + 1;
    const lr = this.setup.schedule.lrAt(next, this.baseLr);
    const scalars = this.optimizer.stepScalars!(lr, t);
    const input: Record<string, ort.Tensor> = {};
    for (const name of model.feeds) input[name] = toOrtTensor(name, feeds[name]);
    for (const p of model.params) if (p.input) input[p.input] = this.params.get(p.key)!;
    for (const s of model.slotsIn) input[s.input] = this.slots.get(s.name)!;
    for (const s of model.scalars) input[s.input] = new ort.Tensor('float32', Float32Array.of(scalars[s.name]), []);
    const out = await session.run(input);
    const loss = (out[model.loss].data as Float32Array)[0];
    const gradNorm = (out[model.gradNorm].data as Float32Array)[0];
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new TrainingError(`step ${next}: the loss is ${loss} and the gradient norm ${gradNorm}; training stopped and the weights of step ${this.steps} are kept`);
    }
    for (const p of model.params) if (p.output) this.params.set(p.key, out[p.output]);
    const before = layoutOf(specsOf(this.slots));
    this.slots = new Map(model.slotsOut.map((s) => [s.name, out[s.output]]));
    this.steps = next;
    this.optimizerSteps = t;
    // The first step's graph (no slots yet) is not needed again.
    const after = layoutOf(specsOf(this.slots));
    if (after !== before) await this.releaseSessions((key) => !key.endsWith(`|${after}`));
    return { step: next, loss, gradNorm, lr };
  }

  /**
   * Trace and load the sessions for this input signature now, so no `step` stalls on it: the
   * current one and, before the first update, the steady-state one (optimizer slots as inputs).
   * Returns the steady-state model.
   */
  async prepare(feeds: Readonly<Record<string, FeedValue>>): Promise<TrainStepModel> {
    const signature = feedSignature(this.graph, feeds);
    const slots = specsOf(this.slots);
    const { model } = await this.entry(signature, slots);
    const next = new Map(model.slotsOut.map((s) => [s.name, s.spec]));
    if (layoutOf(next) === layoutOf(slots)) return model;
    return (await this.entry(signature, next)).model;
  }

  /** The current parameters, in a new ParamStore on `backend` (default: the current backend). */
  paramStore(backend: Backend = getBackend()): ParamStore {
    const store = new ParamStore(this.graph);
    for (const [key, t] of this.params) store.set(key, fromOrt(t, backend));
    return store;
  }

  /** The optimizer state (slots `<node>.<param>.<slot>` and the step count), for `Optimizer.setState` or a checkpoint. */
  optimizerState(backend: Backend = getBackend()): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of this.slots) tensors.set(name, fromOrt(t, backend));
    return { name: this.optimizer.name, tensors, meta: { step: this.optimizerSteps } };
  }

  /**
   * Copy the weights into `params` (a Runtime's store, on its backend) and, given the trainer,
   * the optimizer state and step count into it: then `trainer.save(dir, runtime)` checkpoints what
   * was trained here, and eager training continues from it.
   */
  syncTo(params: ParamStore, trainer?: { readonly optimizer: Optimizer; step: number }): void {
    const first = params.keys().find((k) => params.has(k));
    const backend = first ? params.get(first).backend : getBackend();
    for (const [key, t] of this.params) params.set(key, fromOrt(t, backend));
    if (trainer) {
      const state = this.optimizerState(backend);
      trainer.optimizer.setState(state, backend);
      for (const t of state.tensors.values()) t.dispose();
      trainer.step = this.steps;
    }
  }

  /** Release every cached session. */
  async dispose(): Promise<void> {
    await this.releaseSessions(() => true);
  }

  private async releaseSessions(which: (key: string) => boolean): Promise<void> {
    for (const [key, entry] of [...this.sessions]) {
      if (!which(key)) continue;
      this.sessions.delete(key);
      await (await entry.catch(() => undefined))?.session.release();
    }
  }

  private entry(signature: FeedSignature, slotSpecs: ReadonlyMap<string, TensorSpec>): Promise<Entry> {
    const key = `${JSON.stringify(signature)}|${layoutOf(slotSpecs)}`;
    let entry = this.sessions.get(key);
    if (!entry) {
      const slots = new Map<string, Record<string, TensorSpec>>();
      for (const [name, spec] of slotSpecs) {
        const i = name.lastIndexOf('.');
        slots.set(name.slice(0, i), { ...slots.get(name.slice(0, i)), [name.slice(i + 1)]: spec });
      }
      entry = (async () => {
        const model = traceTrainStep({
          graph: this.graph,
          optimizer: this.optimizer,
          clipping: this.setup.clipping,
          loss: this.options.loss ?? 'loss',
          feeds: signature,
          slots,
          opset: this.options.opset,
          rewrite: this.options.rewrite,
        });
        const session = await createSession(model.bytes, 'the compiled training step', this.options.sessionOptions ?? DEFAULT_SESSION_OPTIONS);
        return { model, session };
      })();
      // A failed trace is not cached: the next call retries (and reports the error again).
      entry.catch(() => this.sessions.delete(key));
      this.sessions.set(key, entry);
    }
    return entry;
  }
}

/**
 * Compile the training step of a runtime's graph (or of a graph and its parameters) with a
 * trainer's optimizer, clipping policy and schedule.
 *
 *   const compiled = compileTrainStep(runtime, trainer);
 *   await compiled.step({ ids, labels });
 */
export function compileTrainStep(source: Runtime | { readonly graph: Graph; readonly params: ParamStore }, setup: TrainingSetup, options: CompileOptions = {}): CompiledTrainer {
  return new CompiledTrainer(source.graph, source.params, setup, options);
}

/** Shapes of the slots held. */
function specsOf(slots: ReadonlyMap<string, ort.Tensor>): Map<string, TensorSpec> {
  return new Map([...slots].map(([name, t]) => [name, { shape: t.dims.map(Number), dtype: 'float32' as const }]));
}

/** Which slots exist, with their shapes, as a string (sessions are cached per layout). */
function layoutOf(slots: ReadonlyMap<string, TensorSpec>): string {
  return [...slots].map(([name, s]) => `${name}:${s.shape.join('x')}`).sort().join(',');
}

function fromOrt(t: ort.Tensor, backend: Backend): Tensor {
  return tensor(t.data as Float32Array, t.dims.map(Number), 'float32', backend);
}
