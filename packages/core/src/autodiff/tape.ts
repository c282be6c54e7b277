// Reverse-mode autodiff as a tape over primitives (micrograd's shape, at the level of tensors):
// while active, a Tape records every primitive whose inputs depend on a watched tensor; backward
// replays the entries in reverse with each primitive's VJP rule, summing the gradients of a tensor
// used more than once (cotangent.ts: the gradients of windows cut from it are joined, not summed).

import { type Recorder, type TapeEntry, popRecorder, pushRecorder, withoutRecording } from '../engine.js';
import { GradientError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { formatShape, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { Cotangent } from './cotangent.js';

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
    const cotangents = new Map<number, Cotangent>();
    const cotangent = (t: Tensor): Cotangent => {
      let c = cotangents.get(t.id);
      if (!c) cotangents.set(t.id, (c = new Cotangent(t.shape)));
      return c;
    };
    const accumulate = (t: Tensor, g: Tensor, where: string): void => {
      if (!sameShape(g.shape, t.shape)) {
        throw new GradientError(
          `${where}: gradient has shape ${formatShape(g.shape)}, expected ${formatShape(t.shape)}`,
        );
      }
      cotangent(t).add(g);
    };
    const wanted = (x: Tensor) => this.tracked.has(x.id) && isFloat(x.dtype);
    withoutRecording(() => {
      outputs.forEach((o, i) => accumulate(o, seeds[i], `output gradient ${i}`));
      for (let k = this.entries.length - 1; k >= 0; k--) {
        const { prim, inputs, attrs, output } = this.entries[k];
        const g = cotangents.get(output.id)?.value();
        if (!g || !prim.vjp) continue;
        // NOTE: a window cut along one axis (a time step, a gate) keeps its gradient as a piece;
        // see cotangent.ts. Whole and multi-axis windows take the VJP (a Pad).
        const window = prim.window?.(inputs, attrs);
        if (window) {
          const x = inputs[0];
          if (!wanted(x)) continue;
          const cut = window.size.flatMap((n, a) => (n >= 0 && (window.begin[a] !== 0 || n !== x.shape[a]) ? [a] : []));
          if (cut.length === 1) {
            cotangent(x).addWindow(cut[0], window.begin[cut[0]], g);
            continue;
          }
        }
        const partials = prim.vjp({ inputs, output, attrs, grad: g });
        inputs.forEach((x, i) => {
          const p = partials[i];
          if (p && wanted(x)) accumulate(x, p, `VJP of ${prim.name} for input "${prim.inputs[i] ?? prim.inputs[0]}"`);
        });
      }
    });
    const grads = new Map<number, Tensor>();
    for (const [id, c] of cotangents) {
      const g = withoutRecording(() => c.value());
      if (g) grads.set(id, g);
    }
    return grads;
  }
}
