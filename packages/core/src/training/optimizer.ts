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

/** Optimizers whose update is a function of (param, grad, that param's slots, lr, step count). */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly name: string;
  /** Updates applied so far (PyTorch's per-parameter `step`, the same for all parameters here). */
  protected steps = 0;
  private readonly slots = new Map<string, Slots>();

  /** One parameter's update: returns the new parameter and its new slots. */
  protected abstract update(param: Tensor, grad: Tensor, slots: Readonly<Slots>, lr: number, step: number): { param: Tensor; slots: Slots };

  step(params: ParamTarget, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    this.steps++;
    for (const [key, grad] of grads) {
      const old = this.slots.get(key) ?? {};
      const result = tidy(() => this.update(params.get(key), grad, old, lr, this.steps));
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
