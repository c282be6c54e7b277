// CompiledTrainer: the training step as compiled ONNX graphs (trace-train-step.ts), run by
// onnxruntime-node, in one of two modes:
//   - 'fused': one graph does forward, backward, clipping and the optimizer update; the new
//     weights and slots come back as new tensors each step;
//   - 'split': a `gradients` graph (forward + backward → loss, norm, gradients) then an `apply`
//     graph per parameter group (a graph node's parameters: clipping + update). Gradients land in
//     buffers held here; apply writes the new weights and slots into the old ones' buffers where
//     that is safe (in-place.ts), so a step keeps about four copies of the parameters (weights,
//     two Adam slots, gradients), as PyTorch does. `gradients` and `apply` are public, so
//     gradients can be reduced across workers between them, and `gradAccum` runs micro-batches
//     through the gradients graph (summing into the same buffers) before one apply.
// Sessions are cached per input signature, slot layout and watched messages; apply sessions are
// shared by groups of the same shapes. The learning rate and the optimizer's step scalars are fed
// each step. `paramStore`, `optimizerState` and `syncTo` bring the state back for checkpoints,
// generation or eager training.
//
//   const compiled = compileTrainStep(runtime, trainer, { mode: 'split', gradAccum: 4 });
//   for (const batch of batches) console.log((await compiled.step(batch)).loss);
//   const g = await compiled.gradients(batch); /* all-reduce g.grads */ await compiled.apply(g.grads);
//   compiled.syncTo(runtime.params, trainer);               // then trainer.save(dir, runtime)
import {
  type Backend,
  type ClippingPolicy,
  type Graph,
  type LrSchedule,
  type MessageFilter,
  type Optimizer,
  type OptimizerState,
  ParamStore,
  Runtime,
  type Tensor,
  type TensorSpec,
  ConfigError,
  TrainingError,
  getBackend,
} from '@ganglion/core';
import type * as ort from 'onnxruntime-common';
import { collectGarbage, currentOrt, fillsPreallocatedOutputs } from '../ort-runtime.js';
import { type FeedValue, feedSignature, toOrtTensor } from '../ort-tensors.js';
import { type FusedApply, fuseApply } from './fused-apply.js';
import { splitBatch } from './micro-batches.js';
import { BLOCK_BYTES, type RowBlock, rowBlocks } from './row-blocks.js';
import {
  COLLECT_ABOVE_BYTES,
  DEFAULT_SESSION_OPTIONS,
  SPLIT_SESSION_OPTIONS,
  type SessionEntry,
  SessionCache,
  fromOrt,
  groupSlots,
  layoutOf,
  onlyInputsOf,
  scalarTensor,
  slotSpecsOf,
  specsOf,
} from './step-sessions.js';
import { publishTaps, tapsKey } from './taps.js';

export { DEFAULT_SESSION_OPTIONS, SPLIT_SESSION_OPTIONS } from './step-sessions.js';
import {
  type FeedSignature,
  type TrainStepModel,
  traceApply,
  traceGradNorm,
  traceGradients,
  traceTrainStep,
} from './trace-train-step.js';

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

export type StepMode = 'fused' | 'split';

export interface CompileOptions {
  /** The graph output to minimize (default 'loss'). */
  readonly loss?: string;
  /** ONNX opset of the traced step (default 17). */
  readonly opset?: number;
  /** onnxruntime session options (default: DEFAULT_SESSION_OPTIONS, or SPLIT_SESSION_OPTIONS in split mode). */
  readonly sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Rewrite per-time-step gradient sums into single ops (default true; off only to compare). */
  readonly rewrite?: boolean;
  /** Recompute cheap large activations in the backward instead of keeping them (default true). */
  readonly recompute?: boolean;
  /** 'fused' or 'split' (default: `defaultStepMode` of the parameter count). */
  readonly mode?: StepMode;
  /**
   * Micro-batches per step (default 1): `step` cuts each feed's first dimension into this many
   * parts, sums their mean gradients through the gradients graph, then applies once (split mode).
   */
  readonly gradAccum?: number;
  /**
   * Collect garbage before each gradients and apply run (default: in split mode, for models over
   * COLLECT_ABOVE_BYTES of weights; see collectGarbage).
   */
  readonly collectGarbage?: boolean;
  /** Split mode: one apply graph per graph node's parameters (default), or one for all of them. */
  readonly applyGroups?: 'node' | 'all';
  /**
   * Split mode: a gradient larger than this (bytes; default BLOCK_BYTES) comes out of the
   * gradients graph a block of rows at a time, and its parameter is clipped and updated a block at
   * a time when the optimizer and the clipping policy are elementwise (row-blocks.ts).
   */
  readonly blockBytes?: number;
  /**
   * Split mode: run an apply graph that is elementwise (every optimizer here, with clipping by
   * global norm, by value or none) as one WebAssembly loop per parameter, in place (default true;
   * fused-apply.ts). Other apply graphs, and every graph with false, run in onnxruntime.
   */
  readonly fusedApply?: boolean;
}

export interface CompiledStepResult {
  /** Updates applied so far, this one included. */
  readonly step: number;
  readonly loss: number;
  /** Global L2 norm of the gradients before clipping. */
  readonly gradNorm: number;
  readonly lr: number;
}

/** What `gradients` returns: the loss, the norm, and every gradient (views of buffers held by the trainer). */
export interface CompiledGradients {
  readonly loss: number;
  readonly gradNorm: number;
  readonly grads: ReadonlyMap<string, Float32Array>;
}

/** Above this many trained (not frozen) parameters the split step is the default (see defaultStepMode). */
export const SPLIT_ABOVE_PARAMS = 2_000_000;

/**
 * The mode a model gets when none is asked for. Measured on GPT shapes (vocabulary 89, AdamW, 2
 * threads; peak RSS of the process): at 0.8M parameters the fused graph takes 20% less CPU a
 * step than the split one and activations, not weights, fill the memory (271 MB, PyTorch 328 MB);
 * from 4.8M parameters the split step's in-place updates cut peak RSS (25M: 1.47 → 1.13 GB,
 * 85M: 3.48 → 2.16 GB; PyTorch 1.24 and 2.17 GB) at the same step time.
 */
export function defaultStepMode(paramCount: number): StepMode {
  return paramCount > SPLIT_ABOVE_PARAMS ? 'split' : 'fused';
}

/**
 * A compiled training step for a graph and its parameters.
 *
 *   const compiled = new CompiledTrainer(graph, params, { optimizer, clipping, schedule, lr: 2e-3 });
 *   const { loss, gradNorm } = await compiled.step({ ids, labels });
 */
export class CompiledTrainer {
  readonly mode: StepMode;
  /** Updates applied so far (drives the schedule). */
  private steps: number;
  /** The optimizer's own update count (the `t` of its step scalars). */
  private optimizerSteps: number;
  private readonly baseLr: number;
  private readonly optimizer: Optimizer;
  /** The runtime whose watches the step's taps serve (compileTrainStep from a Runtime). */
  private readonly watchSource?: Runtime;
  private readonly params = new Map<string, ort.Tensor>();
  /** The graph node of each parameter (apply groups). */
  private readonly nodeOf = new Map<string, string>();
  /** Optimizer slots by `<param key>.<slot>`. */
  private slots = new Map<string, ort.Tensor>();
  /** Split mode: the gradients of the last `gradients` call (or those given to `apply`), and their norm. */
  private readonly grads = new Map<string, ort.Tensor>();
  private gradNormValue = Number.NaN;
  private readonly sessions: SessionCache;
  /** Fused apply kernels by apply key (null: that graph is not elementwise, onnxruntime runs it). */
  private readonly kernels = new Map<string, { model: TrainStepModel; kernel: FusedApply } | null>();
  /** Whether to collect the copies onnxruntime-node returned before each phase. */
  private readonly collect: boolean;

  constructor(
    readonly graph: Graph,
    params: ParamStore | ReadonlyMap<string, Float32Array>,
    private readonly setup: TrainingSetup,
    private readonly options: CompileOptions = {},
    watchSource?: Runtime,
  ) {
    this.optimizer = setup.optimizer;
    this.watchSource = watchSource;
    const lr = setup.lr ?? setup.options?.lr;
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr))
      throw new ConfigError(`learning rate must be a finite number > 0, got ${String(lr)}`);
    const accum = options.gradAccum ?? 1;
    if (!Number.isInteger(accum) || accum < 1)
      throw new ConfigError(`gradAccum must be a positive integer, got ${String(options.gradAccum)}`);
    this.baseLr = lr;
    this.steps = setup.step ?? 0;
    const state = this.optimizer.getState();
    this.optimizerSteps = Number(state.meta.step ?? 0);
    const specs = new ParamStore(graph).specs;
    for (const [key, { node }] of specs) this.nodeOf.set(key, node);
    // A store's weights and the slots are read with dataSync, which returns a copy: split mode
    // updates its own buffers in place. Arrays given in a Map are taken over as they are.
    if (params instanceof ParamStore)
      for (const key of params.keys()) this.params.set(key, toOrtTensor(key, params.get(key)));
    else
      for (const [key, data] of params)
        this.params.set(
          key,
          toOrtTensor(key, { data, shape: (specs.get(key)?.spec.shape as number[]) ?? [data.length] }),
        );
    for (const [name, t] of state.tensors) this.slots.set(name, toOrtTensor(name, t));
    // Frozen parameters are read, never rewritten: only the trained ones decide whether updating
    // them in place (split) is worth a second graph.
    let count = 0;
    for (const [key, t] of this.params) if (specs.get(key)?.spec.trainable !== false) count += t.size;
    this.mode = options.mode ?? (accum > 1 ? 'split' : defaultStepMode(count));
    if (this.mode === 'fused' && accum > 1)
      throw new ConfigError(`gradAccum ${accum} needs mode 'split' (the fused graph applies every batch it sees)`);
    this.sessions = new SessionCache(
      options.sessionOptions ?? (this.mode === 'split' ? SPLIT_SESSION_OPTIONS : DEFAULT_SESSION_OPTIONS),
    );
    this.collect = options.collectGarbage ?? (this.mode === 'split' && count * 4 > COLLECT_ABOVE_BYTES);
  }

  /** Updates applied so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Number of cached sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * One training step on `feeds` (Ganglion tensors, or typed arrays with shapes). A non-finite
   * loss or gradient norm raises TrainingError and leaves the weights and slots as they were.
   */
  async step(feeds: Readonly<Record<string, FeedValue>>): Promise<CompiledStepResult> {
    if (this.mode === 'fused') return this.fusedStep(feeds);
    const k = this.options.gradAccum ?? 1;
    let loss: number;
    let gradNorm: number;
    if (k === 1) ({ loss, gradNorm } = await this.gradients(feeds));
    else {
      this.zeroGradients();
      loss = 0;
      for (const micro of splitBatch(feeds, k))
        loss += (await this.gradients(micro, { accumulate: true, scale: 1 / k })).loss / k;
      gradNorm = await this.gradNorm();
    }
    this.checkFinite(loss, gradNorm);
    const { lr } = await this.apply(undefined, gradNorm);
    return { step: this.steps, loss, gradNorm, lr };
  }

  /**
   * Forward and backward on `feeds`: the loss, the global gradient norm and every gradient, held
   * here for `apply`. With `accumulate`, `scale ·` these gradients are added to the held ones
   * (zero them first with `zeroGradients`), and the norm returned is this batch's.
   */
  async gradients(
    feeds: Readonly<Record<string, FeedValue>>,
    opts: { readonly accumulate?: boolean; readonly scale?: number } = {},
  ): Promise<CompiledGradients> {
    const signature = feedSignature(this.graph, feeds);
    const taps = this.tapsFor(this.steps + 1);
    const accumulate = opts.accumulate === true;
    if (this.collect) collectGarbage();
    const { model, session } = await this.sessions.get(
      `gradients|${JSON.stringify(signature)}|${tapsKey(taps)}|${accumulate}`,
      () =>
        traceGradients({
          graph: this.graph,
          loss: this.options.loss ?? 'loss',
          feeds: signature,
          opset: this.options.opset,
          rewrite: this.options.rewrite,
          recompute: this.options.recompute,
          taps,
          accumulate,
          blockBytes: this.options.blockBytes,
        }),
    );
    const input: Record<string, ort.Tensor> = {};
    for (const name of model.feeds) input[name] = toOrtTensor(name, feeds[name]);
    for (const p of model.params) if (p.input) input[p.input] = this.params.get(p.key)!;
    for (const s of model.scalars) input[s.input] = scalarTensor(opts.scale ?? 1);
    const fetches: Record<string, ort.Tensor | null> = { [model.loss!]: null, [model.gradNorm]: null };
    for (const t of model.taps) fetches[t.output] = null;
    const fills = fillsPreallocatedOutputs();
    for (const g of model.grads) {
      const buffer = this.gradBuffer(g.key, g.spec);
      if (g.input) input[g.input] = buffer;
      if (g.rows) for (const b of g.rows) fetches[b.output] = fills ? rowsOf(buffer, b) : null;
      else fetches[g.output!] = fills && (!g.input || model.inPlace.has(g.output!)) ? buffer : null;
    }
    const out = await session.run(input, fetches);
    for (const g of model.grads) {
      if (g.rows && !fills) {
        const buffer = this.grads.get(g.key)!;
        for (const b of g.rows) (rowsOf(buffer, b).data as Float32Array).set(out[b.output].data as Float32Array);
      } else if (!g.rows && fetches[g.output!] === null) this.grads.set(g.key, out[g.output!]);
    }
    const loss = (out[model.loss!].data as Float32Array)[0];
    this.gradNormValue = (out[model.gradNorm].data as Float32Array)[0];
    if (this.watchSource && model.taps.length)
      publishTaps(this.watchSource, model.taps, out, this.steps + 1, this.watchSource.backend);
    return { loss, gradNorm: this.gradNormValue, grads: this.gradientArrays() };
  }

  /** Zero the held gradients (before accumulating into them). */
  zeroGradients(): void {
    for (const g of this.grads.values()) (g.data as Float32Array).fill(0);
  }

  /** The global L2 norm of the held gradients (after accumulating or reducing them), by the norm graph. */
  async gradNorm(): Promise<number> {
    return (this.gradNormValue = await this.normOf(this.grads));
  }

  /**
   * Clip and update every parameter with a gradient: the held gradients, or `grads` (same keys
   * and sizes, e.g. all-reduced across workers; `gradNorm` defaults to their norm), one apply
   * graph per graph node. Counts one update.
   */
  async apply(
    grads?: ReadonlyMap<string, Float32Array>,
    gradNorm?: number,
  ): Promise<{ readonly step: number; readonly lr: number }> {
    let source = this.grads;
    if (grads) {
      source = new Map();
      for (const [key, data] of grads) {
        const held = this.params.get(key);
        if (!held || held.size !== data.length)
          throw new TrainingError(
            `apply: gradient "${key}" has ${data.length} values, expected ${held ? held.size : 'none (no such parameter)'}`,
          );
        source.set(key, new (currentOrt().Tensor)('float32', data, held.dims));
      }
    }
    if (source.size === 0) throw new TrainingError('apply: no gradients (call gradients(feeds) first, or pass them)');
    const norm = gradNorm ?? (grads ? await this.normOf(source) : this.gradNormValue);
    const next = this.steps + 1;
    const t = this.optimizerSteps + 1;
    const lr = this.setup.schedule.lrAt(next, this.baseLr);
    const scalars = this.optimizer.stepScalars(lr, t);
    const used = new Set<string>();
    const run = (keys: string[], rows?: RowBlock) => this.applyGroup(keys, source, norm, scalars, used, rows);
    // Only onnxruntime's apply graphs allocate (their outputs), so only they want the copies collected first.
    let collected = !this.collect;
    for (const keys of this.groups(source.keys())) {
      if (this.applyFused(keys, source, norm, scalars, used)) continue;
      if (!collected) collected = (collectGarbage(), true);
      const whole = keys.filter((key) => !this.rowBlocks(key));
      if (whole.length) await run(whole);
      for (const key of keys) for (const rows of this.rowBlocks(key) ?? []) await run([key], rows);
    }
    this.steps = next;
    this.optimizerSteps = t;
    // The first update's graphs (no slots yet) are not needed again.
    await this.sessions.release((key) => key.startsWith('apply|') && !used.has(key));
    for (const key of this.kernels.keys()) if (!used.has(key)) this.kernels.delete(key);
    return { step: next, lr };
  }

  /**
   * Clip and update the parameters `keys` with the fused kernel of their apply graph, in place;
   * false when that graph is not elementwise (or fusing is off).
   */
  private applyFused(
    keys: string[],
    source: ReadonlyMap<string, ort.Tensor>,
    norm: number,
    scalars: Record<string, number>,
    used: Set<string>,
  ): boolean {
    if (this.options.fusedApply === false) return false;
    const key = `apply|${keys.map((k) => this.paramLayout(k)).join(',')}`;
    let entry = this.kernels.get(key);
    if (entry === undefined) {
      const model = this.traceApplyOf(keys, slotSpecsOf(this.slots, keys));
      const kernel = fuseApply(model.bytes);
      entry = kernel ? { model, kernel } : null;
      this.kernels.set(key, entry);
    }
    if (!entry) return false;
    used.add(key);
    const { model, kernel } = entry;
    const { at, slotOf } = groupNames(model, keys);
    const arrays = new Map<string, Float32Array>();
    const values = new Map<string, number>([[model.gradNorm, norm]]);
    for (const p of model.params) {
      const held = this.params.get(at.get(p.key)!)!.data as Float32Array;
      if (p.input) arrays.set(p.input, held);
      if (p.output) arrays.set(p.output, held);
    }
    for (const g of model.grads) arrays.set(g.input!, source.get(at.get(g.key)!)!.data as Float32Array);
    for (const s of model.slotsIn) arrays.set(s.input, this.slots.get(slotOf(s.name))!.data as Float32Array);
    for (const s of model.slotsOut) {
      const name = slotOf(s.name);
      const shape = s.spec.shape as number[];
      let held = this.slots.get(name);
      if (held?.dims.join('x') !== shape.join('x')) {
        held = new (currentOrt().Tensor)('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
        this.slots.set(name, held);
      }
      arrays.set(s.output, held.data as Float32Array);
    }
    for (const s of model.scalars) values.set(s.input, scalars[s.name]);
    kernel.run(arrays, values);
    return true;
  }

  /**
   * One apply graph run: clip and update the parameters `keys` (all of them, or the block `rows`
   * of one), writing the new weights and slots into the held buffers where that is safe.
   */
  private async applyGroup(
    keys: string[],
    source: ReadonlyMap<string, ort.Tensor>,
    norm: number,
    scalars: Record<string, number>,
    used: Set<string>,
    rows?: RowBlock,
  ): Promise<void> {
    const view = (t: ort.Tensor) => (rows ? rowsOf(t, rows) : t);
    let slots = slotSpecsOf(this.slots, keys);
    if (rows) {
      const shape = [rows.count, ...this.params.get(keys[0])!.dims.slice(1)];
      slots = new Map(
        [...slots].map(([k, s]) => [
          k,
          Object.fromEntries(Object.keys(s).map((n) => [n, { shape, dtype: 'float32' }])),
        ]),
      );
    }
    const key = `apply|${rows ? `rows ${rows.count}|` : ''}${keys.map((k) => this.paramLayout(k)).join(',')}`;
    used.add(key);
    const { model, session } = await this.sessions.get(key, () =>
      this.traceApplyOf(
        keys,
        slots,
        rows && new Map([[keys[0], [rows.count, ...this.params.get(keys[0])!.dims.slice(1)]]]),
      ),
    );
    const { at, slotOf } = groupNames(model, keys);
    const input: Record<string, ort.Tensor> = { [model.gradNorm]: scalarTensor(norm) };
    const fetches: Record<string, ort.Tensor | null> = {};
    const inPlace = (output: string) => fillsPreallocatedOutputs() && model.inPlace.has(output);
    for (const p of model.params) {
      if (p.input) input[p.input] = view(this.params.get(at.get(p.key)!)!);
      if (p.output) fetches[p.output] = p.input && inPlace(p.output) ? input[p.input] : null;
    }
    for (const g of model.grads) input[g.input!] = view(source.get(at.get(g.key)!)!);
    for (const s of model.slotsIn) input[s.input] = view(this.slots.get(slotOf(s.name))!);
    for (const s of model.slotsOut)
      fetches[s.output] = inPlace(s.output) ? view(this.slots.get(slotOf(s.name))!) : null;
    for (const s of model.scalars) input[s.input] = scalarTensor(scalars[s.name]);
    const out = await session.run(onlyInputsOf(session, input), fetches);
    // Outputs not written in place: a whole group's replace the held tensors, a block's are copied into them.
    const keep = (held: Map<string, ort.Tensor>, name: string, value: ort.Tensor) => {
      if (!rows) return void held.set(name, value);
      const whole = this.params.get(keys[0])!;
      if (held.get(name)?.size !== whole.size)
        held.set(name, new (currentOrt().Tensor)('float32', new Float32Array(whole.size), whole.dims));
      (view(held.get(name)!).data as Float32Array).set(value.data as Float32Array);
    };
    for (const p of model.params)
      if (p.output && fetches[p.output] === null) keep(this.params, at.get(p.key)!, out[p.output]);
    for (const s of model.slotsOut) if (fetches[s.output] === null) keep(this.slots, slotOf(s.name), out[s.output]);
  }

  /** The apply graph (clipping + update) of the parameters `keys`, with these slots and, for a block, shapes. */
  private traceApplyOf(
    keys: string[],
    slots: ReadonlyMap<string, Record<string, TensorSpec>>,
    shapes?: ReadonlyMap<string, readonly number[]>,
  ): TrainStepModel {
    const { graph, optimizer } = this;
    return traceApply({
      graph,
      optimizer,
      clipping: this.setup.clipping,
      keys,
      slots,
      shapes,
      opset: this.options.opset,
    });
  }

  /**
   * The row blocks a parameter is updated in, or undefined to update it whole: only a parameter
   * above the block size with more than one row, slots of its own shape, and an elementwise
   * optimizer and clipping policy (row-blocks.ts).
   */
  private rowBlocks(key: string): RowBlock[] | undefined {
    const t = this.params.get(key)!;
    if (!this.optimizer.elementwise || !this.setup.clipping.elementwise) return;
    for (const [name, s] of this.slots)
      if (name.slice(0, name.lastIndexOf('.')) === key && s.dims.join('x') !== t.dims.join('x')) return;
    return rowBlocks(t.dims.map(Number), this.options.blockBytes ?? BLOCK_BYTES);
  }

  /**
   * Trace and load the sessions for this input signature now, so no `step` stalls on it (fused
   * mode: the current graph and, before the first update, the steady-state one; split mode: the
   * gradients graph). Returns the fused or gradients model.
   */
  async prepare(feeds: Readonly<Record<string, FeedValue>>): Promise<TrainStepModel> {
    const signature = feedSignature(this.graph, feeds);
    if (this.mode === 'split') {
      const accumulate = (this.options.gradAccum ?? 1) > 1;
      const micro = accumulate ? feedSignature(this.graph, splitBatch(feeds, this.options.gradAccum!)[0]) : signature;
      return (
        await this.sessions.get(`gradients|${JSON.stringify(micro)}|${tapsKey([])}|${accumulate}`, () =>
          traceGradients({
            graph: this.graph,
            loss: this.options.loss ?? 'loss',
            feeds: micro,
            opset: this.options.opset,
            rewrite: this.options.rewrite,
            recompute: this.options.recompute,
            accumulate,
            blockBytes: this.options.blockBytes,
          }),
        )
      ).model;
    }
    const slots = specsOf(this.slots);
    const { model } = await this.fusedEntry(signature, slots, []);
    const next = new Map(model.slotsOut.map((s) => [s.name, s.spec]));
    if (layoutOf(next) === layoutOf(slots)) return model;
    return (await this.fusedEntry(signature, next, [])).model;
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
   * the optimizer state and step count into it: then `trainer.save(checkpointFolder(dir), runtime)` checkpoints what
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
    await this.sessions.release(() => true);
  }

  private async fusedStep(feeds: Readonly<Record<string, FeedValue>>): Promise<CompiledStepResult> {
    const next = this.steps + 1;
    const { model, session } = await this.fusedEntry(
      feedSignature(this.graph, feeds),
      specsOf(this.slots),
      this.tapsFor(next),
    );
    const t = this.optimizerSteps + 1;
    const lr = this.setup.schedule.lrAt(next, this.baseLr);
    const scalars = this.optimizer.stepScalars(lr, t);
    const input: Record<string, ort.Tensor> = {};
    for (const name of model.feeds) input[name] = toOrtTensor(name, feeds[name]);
    for (const p of model.params) if (p.input) input[p.input] = this.params.get(p.key)!;
    for (const s of model.slotsIn) input[s.input] = this.slots.get(s.name)!;
    for (const s of model.scalars) input[s.input] = scalarTensor(scalars[s.name]);
    const out = await session.run(input);
    const loss = (out[model.loss!].data as Float32Array)[0];
    const gradNorm = (out[model.gradNorm].data as Float32Array)[0];
    this.checkFinite(loss, gradNorm);
    if (this.watchSource && model.taps.length)
      publishTaps(this.watchSource, model.taps, out, next, this.watchSource.backend);
    for (const p of model.params) if (p.output) this.params.set(p.key, out[p.output]);
    const before = layoutOf(specsOf(this.slots));
    this.slots = new Map(model.slotsOut.map((s) => [s.name, out[s.output]]));
    this.steps = next;
    this.optimizerSteps = t;
    // The first step's graph (no slots yet) is not needed again.
    const after = layoutOf(specsOf(this.slots));
    if (after !== before) await this.sessions.release((key) => key.startsWith('fused|') && !key.endsWith(`|${after}`));
    return { step: next, loss, gradNorm, lr };
  }

  private async normOf(grads: ReadonlyMap<string, ort.Tensor>): Promise<number> {
    const keys = [...grads.keys()];
    const { model, session } = await this.sessions.get(
      `norm|${keys.map((k) => `${k}:${grads.get(k)!.dims.join('x')}`).join(',')}`,
      () => traceGradNorm({ graph: this.graph, keys, opset: this.options.opset }),
    );
    const input: Record<string, ort.Tensor> = {};
    model.grads.forEach((g, i) => (input[g.input!] = grads.get(keys[i])!));
    const out = await session.run(input);
    return (out[model.gradNorm].data as Float32Array)[0];
  }

  /** A parameter's shape and its slots' names and shapes, without its key (apply sessions are shared by layout). */
  private paramLayout(key: string): string {
    const slots = [...this.slots]
      .filter(([name]) => name.slice(0, name.lastIndexOf('.')) === key)
      .map(([name, t]) => `${name.slice(name.lastIndexOf('.') + 1)}:${t.dims.join('x')}`);
    return `${this.params.get(key)!.dims.join('x')}[${slots.sort().join(',')}]`;
  }

  private checkFinite(loss: number, gradNorm: number): void {
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new TrainingError(
        `step ${this.steps + 1}: the loss is ${loss} and the gradient norm ${gradNorm}; training stopped and the weights of step ${this.steps} are kept`,
      );
    }
  }

  /** The watches due at step `step` (their messages become outputs of the graph that runs). */
  private tapsFor(step: number): MessageFilter[] {
    return (this.watchSource?.watches ?? []).filter((w) => step % (w.every ?? 1) === 0);
  }

  /** Parameters with a gradient, grouped by graph node in graph order. */
  private groups(keys: Iterable<string>): string[][] {
    if (this.options.applyGroups === 'all') return [[...keys]];
    const byNode = new Map<string, string[]>();
    for (const key of keys) {
      const node = this.nodeOf.get(key) ?? key;
      byNode.set(node, [...(byNode.get(node) ?? []), key]);
    }
    return [...byNode.values()];
  }

  private gradBuffer(key: string, spec: TensorSpec): ort.Tensor {
    let t = this.grads.get(key);
    if (!t) {
      const shape = spec.shape as number[];
      t = new (currentOrt().Tensor)('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      this.grads.set(key, t);
    }
    return t;
  }

  private gradientArrays(): Map<string, Float32Array> {
    return new Map([...this.grads].map(([k, t]) => [k, t.data as Float32Array]));
  }

  private fusedEntry(
    signature: FeedSignature,
    slotSpecs: ReadonlyMap<string, TensorSpec>,
    taps: readonly MessageFilter[],
  ): Promise<SessionEntry> {
    return this.sessions.get(`fused|${JSON.stringify(signature)}|${tapsKey(taps)}|${layoutOf(slotSpecs)}`, () =>
      traceTrainStep({
        graph: this.graph,
        optimizer: this.optimizer,
        clipping: this.setup.clipping,
        loss: this.options.loss ?? 'loss',
        feeds: signature,
        slots: groupSlots(slotSpecs),
        opset: this.options.opset,
        rewrite: this.options.rewrite,
        recompute: this.options.recompute,
        taps,
      }),
    );
  }
}

/**
 * Compile the training step of a runtime's graph (or of a graph and its parameters) with a
 * trainer's optimizer, clipping policy and schedule.
 *
 *   const compiled = compileTrainStep(runtime, trainer);
 *   await compiled.step({ ids, labels });
 */
export function compileTrainStep(
  source: Runtime | { readonly graph: Graph; readonly params: ParamStore | ReadonlyMap<string, Float32Array> },
  setup: TrainingSetup,
  options: CompileOptions = {},
): CompiledTrainer {
  return new CompiledTrainer(
    source.graph,
    source.params,
    setup,
    options,
    source instanceof Runtime ? source : undefined,
  );
}

/**
 * Which of the group `keys` each of an apply model's parameters and slots is: the model was traced
 * for some group of these shapes, and names its values by position (its i-th are keys[i]'s).
 */
function groupNames(model: TrainStepModel, keys: readonly string[]) {
  const at = new Map(model.params.map((p, i) => [p.key, keys[i]]));
  const slotOf = (name: string) =>
    `${at.get(name.slice(0, name.lastIndexOf('.')))}${name.slice(name.lastIndexOf('.'))}`;
  return { at, slotOf };
}

/** A view of rows `start` to `start + count` of a float32 tensor (its first dimension), sharing its buffer. */
function rowsOf(t: ort.Tensor, { start, count }: RowBlock): ort.Tensor {
  const per = t.size / Number(t.dims[0]);
  const data = (t.data as Float32Array).subarray(start * per, (start + count) * per);
  return new (currentOrt().Tensor)('float32', data, [count, ...t.dims.slice(1)]);
}
