// Reverse-mode autodiff as a tape over primitives (micrograd's shape, at the level of tensors):
// while active, a Tape records every primitive whose inputs depend on a watched tensor; backward
// replays the entries in reverse with each primitive's VJP rule, summing the gradients of a tensor
// used more than once.

import { type Recorder, type TapeEntry, popRecorder, pushRecorder, withoutRecording } from '../engine.js';
import { GradientError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { formatShape, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { add } from '../ops/add.js';

export class Tape implements Recorder {
  readonly entries: TapeEntry[] = [];
  private readonly tracked = new Set<number>();

  /** Watch tensors: primitives that (transitively) use them are recorded. */
  watch(...tensors: Tensor[]): this {
    for (const t of tensors) this.tracked.add(t.id);
    return this;
  }

  isTracked(t: Tensor): boolean {
    return this.tracked.has(t.id);
  }

  record(entry: TapeEntry): void {
    if (!isFloat(entry.output.dtype)) return;
    if (entry.inputs.some((t) => this.tracked.has(t.id))) {
      this.entries.push(entry);
      this.tracked.add(entry.output.id);
    }
  }

  /** Run `fn` with this tape recording. */
  run<T>(fn: () => T): T {
    pushRecorder(this);
    try {
      return fn();
    } finally {
      popRecorder(this);
    }
  }

  /**
   * Replay the tape backwards from `outputs` with output gradients `seeds`. Returns the gradient of
   * every tracked tensor that the outputs depend on, keyed by tensor id. Intermediate gradients are
   * left to the enclosing `tidy` scope.
   */
  backward(outputs: readonly Tensor[], seeds: readonly Tensor[]): Map<number, Tensor> {
    const grads = new Map<number, Tensor>();
    const accumulate = (t: Tensor, g: Tensor, where: string): void => {
      if (!sameShape(g.shape, t.shape)) {
        throw new GradientError(`${where}: gradient has shape ${formatShape(g.shape)}, expected ${formatShape(t.shape)}`);
      }
      const prev = grads.get(t.id);
      grads.set(t.id, prev ? add(prev, g) : g);
    };
    withoutRecording(() => {
      outputs.forEach((o, i) => accumulate(o, seeds[i], `output gradient ${i}`));
      for (let k = this.entries.length - 1; k >= 0; k--) {
        const { prim, inputs, attrs, output } = this.entries[k];
        const g = grads.get(output.id);
        if (!g || !prim.vjp) continue;
        const partials = prim.vjp({ inputs, output, attrs, grad: g });
        inputs.forEach((x, i) => {
          const p = partials[i];
          if (p && this.tracked.has(x.id) && isFloat(x.dtype)) accumulate(x, p, `VJP of ${prim.name} for input "${prim.inputs[i] ?? prim.inputs[0]}"`);
        });
      }
    });
    return grads;
  }
}
