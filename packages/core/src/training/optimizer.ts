// The optimizer contract, optax-shaped: `stepScalars(lr, t)` gives the numbers that change from
// step to step, and `update(param, grad, slots, scalars)` is one parameter's pure update. Every
// runner calls that pair through `updateAll`: the eager step below, and a compiled training step
// (backend-onnx), which feeds the scalars as graph inputs. `SlotOptimizer` keeps the eager state
// (per-parameter slots such as momentum buffers and Adam moments, and the update count). Updates
// are written with core ops, so they run on every backend and trace into ONNX.
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { keep, tidy } from '../engine.js';
import { CheckpointError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface OptimizerState {
  /** The optimizer's plugin name, checked on load. */
  readonly name: string;
  /** Slot tensors, named `<node>.<param>.<slot>`. */
  readonly tensors: Map<string, Tensor>;
  readonly meta: Record<string, number | string | boolean>;
}

/** Where parameters live (a ParamStore, or any map-like holder). */
export interface ParamTarget {
  get(key: string): Tensor;
  set(key: string, value: Tensor): void;
}

/** One parameter's optimizer state: named slot tensors (`exp_avg`, `momentum_buffer`, ...). */
export type Slots = Record<string, Tensor>;

/**
 * The step-dependent numbers of one update (the learning rate, Adam's bias corrections), named by
 * the optimizer's `stepScalars`: plain numbers when it runs eagerly, scalar tensors fed as graph
 * inputs when a compiled training step runs it.
 */
export type StepScalars = Readonly<Record<string, number | Tensor>>;

/** One parameter's updated value and slots. */
export interface ParamUpdate {
  readonly param: Tensor;
  readonly slots: Slots;
}

export interface Optimizer {
  readonly name: string;
  /**
   * Whether `update` works element by element: each element of the new parameter and slots reads
   * only the same element of the parameter, gradient and slots (and the step scalars). A compiled
   * step may then update a large parameter a block of rows at a time. Leave it unset for an update
   * that reads a whole tensor (a layer-wise trust ratio, a factored second moment).
   */
  readonly elementwise?: boolean;
  /**
   * The step-dependent numbers of update `t` (1-based) at learning rate `lr` (lr, bias
   * corrections, decoupled decay): plain numbers, fed as graph inputs when compiled.
   *
   *   stepScalars(lr, t) { return { stepSize: lr / (1 - this.beta1 ** t) }; }
   */
  stepScalars(lr: number, t: number): Record<string, number>;
  /**
   * One parameter's update. Pure: reads only its arguments (`slots` is `{}` on the first update)
   * and the optimizer's fixed hyperparameters; every step-dependent number comes through `scalars`.
   */
  update(param: Tensor, grad: Tensor, slots: Readonly<Slots>, scalars: StepScalars): ParamUpdate;
  /** Updates applied so far (eager state). */
  readonly stepCount: number;
  /** The eager state of one parameter's slots (`{}` before its first update). */
  slotsOf(key: string): Readonly<Slots>;
  /**
   * Store the results of one eager update of every parameter: keeps the new slot tensors, disposes
   * the replaced ones, sets the parameters and counts the step.
   */
  commit(params: ParamTarget, updates: ReadonlyMap<string, ParamUpdate>): void;
  /** Eager convenience: `stepScalars(lr, stepCount + 1)`, `updateAll`, `commit`. */
  step(params: ParamTarget, grads: ReadonlyMap<string, Tensor>, lr: number): void;
  getState(): OptimizerState;
  setState(state: OptimizerState, backend: Backend): void;
}

/**
 * The update of every parameter that has a gradient, from explicit parameters and slots: the one
 * loop eager steps and compiled graphs both run. Each parameter's update runs in its own `tidy`,
 * so an eager step holds one parameter's intermediates at a time.
 */
export function updateAll(
  optimizer: Optimizer,
  grads: ReadonlyMap<string, Tensor>,
  param: (key: string) => Tensor,
  slots: (key: string) => Readonly<Slots>,
  scalars: StepScalars,
): Map<string, ParamUpdate> {
  const out = new Map<string, ParamUpdate>();
  for (const [key, grad] of grads)
    out.set(
      key,
      tidy(() => optimizer.update(param(key), grad, slots(key), scalars)),
    );
  return out;
}

/**
 * Base class for optimizers whose update is a function of (param, grad, that param's slots, step
 * scalars): it keeps the slots and the update count. A subclass writes `stepScalars` and `update`.
 */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly name: string;
  /** Updates applied so far (PyTorch's per-parameter `step`, the same for all parameters here). */
  private steps = 0;
  private readonly slots = new Map<string, Slots>();

  abstract stepScalars(lr: number, t: number): Record<string, number>;
  abstract update(param: Tensor, grad: Tensor, slots: Readonly<Slots>, scalars: StepScalars): ParamUpdate;

  get stepCount(): number {
    return this.steps;
  }

  slotsOf(key: string): Readonly<Slots> {
    return this.slots.get(key) ?? {};
  }

  commit(params: ParamTarget, updates: ReadonlyMap<string, ParamUpdate>): void {
    for (const [key, u] of updates) {
      for (const t of Object.values(u.slots)) keep(t);
      params.set(key, u.param);
      for (const [name, t] of Object.entries(this.slots.get(key) ?? {})) if (u.slots[name] !== t) t.dispose();
      this.slots.set(key, u.slots);
    }
    this.steps++;
  }

  step(params: ParamTarget, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    const scalars = this.stepScalars(lr, this.steps + 1);
    this.commit(
      params,
      updateAll(
        this,
        grads,
        (k) => params.get(k),
        (k) => this.slotsOf(k),
        scalars,
      ),
    );
  }

  getState(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [key, slots] of this.slots)
      for (const [name, t] of Object.entries(slots)) tensors.set(`${key}.${name}`, t);
    return { name: this.name, tensors, meta: { step: this.steps } };
  }

  setState(state: OptimizerState, backend: Backend): void {
    if (state.name !== this.name)
      throw new CheckpointError(`optimizer state is for "${state.name}", but the optimizer in use is "${this.name}"`);
    for (const slots of this.slots.values()) for (const t of Object.values(slots)) t.dispose();
    this.slots.clear();
    this.steps = Number(state.meta.step ?? 0);
    for (const [name, t] of state.tensors) {
      const i = name.lastIndexOf('.');
      const key = name.slice(0, i);
      const slots = this.slots.get(key) ?? {};
      // A copy: the state handed in stays its owner's (it may be another optimizer's live slot).
      slots[name.slice(i + 1)] = keep(tensor(t.dataSync(), t.shape, t.dtype, backend));
      this.slots.set(key, slots);
    }
  }
}
