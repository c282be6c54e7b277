// The optimizer contract, and a base class for optimizers that keep per-parameter state slots
// (momentum buffers, Adam moments). Updates are written with core ops, so they run on every
// backend (and can be traced into ONNX with the rest of a training step).
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { keep, tidy } from '../engine.js';
import { CheckpointError, ConfigError } from '../errors.js';
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

export interface Optimizer {
  readonly name: string;
  /** Apply one update to every parameter that has a gradient. */
  step(params: ParamTarget, grads: ReadonlyMap<string, Tensor>, lr: number): void;
  getState(): OptimizerState;
  setState(state: OptimizerState, backend: Backend): void;
}

type Slots = Record<string, Tensor>;

/**
 * The step-dependent numbers of one update (the learning rate, Adam's bias corrections), named by
 * the optimizer's `stepScalars`: plain numbers when it runs eagerly, scalar tensors fed as graph
 * inputs when a compiled training step (backend-onnx) runs it.
 */
export type StepScalars = Readonly<Record<string, number | Tensor>>;

/** Optimizers whose update is a function of (param, grad, that param's slots, lr, step count). */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly name: string;
  /** Updates applied so far (PyTorch's per-parameter `step`, the same for all parameters here). */
  protected steps = 0;
  private readonly slots = new Map<string, Slots>();

  /**
   * One parameter's update: returns the new parameter and its new slots. `scalars` is
   * `stepScalars(lr, step)`; an update that reads the learning rate and the step count only
   * through it can be compiled (there `lr` and `step` are NaN and the scalars are tensors).
   */
  protected abstract update(param: Tensor, grad: Tensor, slots: Readonly<Slots>, lr: number, step: number, scalars: StepScalars): { param: Tensor; slots: Slots };

  /**
   * The numbers update number `t` (1-based) at learning rate `lr` depends on, computed on the
   * host. Optional: an optimizer that declares it can run inside a compiled training step, which
   * feeds these as graph inputs each step instead of baking them in at trace time.
   *
   *   stepScalars(lr, t) { return { stepSize: lr / (1 - this.beta1 ** t) }; }
   */
  stepScalars?(lr: number, t: number): Record<string, number>;

  /**
   * One parameter's update from explicit slots and scalars, leaving this optimizer's own state
   * alone: what a compiled training step traces. Needs `stepScalars`.
   */
  updateWith(param: Tensor, grad: Tensor, slots: Readonly<Slots>, scalars: StepScalars): { param: Tensor; slots: Slots } {
    if (!this.stepScalars) throw new ConfigError(`optimizer "${this.name}" cannot run with step scalars: it does not declare stepScalars(lr, t)`);
    return this.update(param, grad, slots, NaN, NaN, scalars);
  }

  step(params: ParamTarget, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    this.steps++;
    const scalars = this.stepScalars?.(lr, this.steps) ?? {};
    for (const [key, grad] of grads) {
      const old = this.slots.get(key) ?? {};
      const result = tidy(() => this.update(params.get(key), grad, old, lr, this.steps, scalars));
      for (const t of Object.values(result.slots)) keep(t);
      params.set(key, result.param);
      for (const [name, t] of Object.entries(old)) if (result.slots[name] !== t) t.dispose();
      this.slots.set(key, result.slots);
    }
  }

  getState(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [key, slots] of this.slots) for (const [name, t] of Object.entries(slots)) tensors.set(`${key}.${name}`, t);
    return { name: this.name, tensors, meta: { step: this.steps } };
  }

  setState(state: OptimizerState, backend: Backend): void {
    if (state.name !== this.name) throw new CheckpointError(`optimizer state is for "${state.name}", but the optimizer in use is "${this.name}"`);
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

/** Read a numeric option with a default, rejecting non-finite values. */
export function numOption(name: string, opts: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = opts[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${name}: option "${key}" must be a finite number, got ${String(v)}`);
  return v;
}
