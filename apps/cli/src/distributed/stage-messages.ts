// How a stage's runtime messages become the whole graph's: what a stage forwards to the driver's
// messages$, named as one process's runtime would name it. A stage's runtimes see plumbing the
// whole graph has not (the PipelineSeam, the fed gradients, received ports as graph inputs), and
// re-run forwards while recomputing; those are dropped, a received port is named after the node
// that computed it, and the seam's gradient of the loss becomes the seed of the backward wave.
//
//   const m = graphMessage(runtimeMessage, { lossRef, isStageInput, received, recompute: false, own: false });
import type { Message, MessageFilter, PortRef } from '@ganglion/core';
import { matchesFilter } from '@ganglion/core';
import { SEAM } from './pipeline-plan.js';

export interface StageView {
  readonly lossRef: PortRef;
  /** Whether a node name is one of the stage graph's inputs (graph inputs, received ports, fed gradients). */
  readonly isStageInput: (node: string) => boolean;
  /** A received port's input name -> the port it stands for. */
  readonly received: ReadonlyMap<string, PortRef>;
  /** The forward runs again in the backward wave: its activations were forwarded already. */
  readonly recompute: boolean;
  /** The message is the stage's own (the step's summed ParamGrads), not a runtime's. */
  readonly own: boolean;
}

/** The message as the whole graph has it, or undefined when it is the stage's own plumbing. */
export function graphMessage(m: Message, v: StageView): Message | undefined {
  switch (m.kind) {
    case 'activation':
      // Inputs are their sender's activations; a recomputed forward repeats what was sent already.
      return v.recompute || m.from.node === SEAM || v.isStageInput(m.from.node) ? undefined : m;
    case 'gradient':
      if (m.to.node === SEAM) return undefined;
      if (m.from.node === SEAM) {
        // Of the loss: the backward wave's seed. Of a sent port: the next stages sent it already.
        const loss = v.lossRef;
        return m.to.node === loss.node && m.to.port === loss.port
          ? { ...m, from: { node: 'loss', port: 'seed' } }
          : undefined;
      }
      return { ...m, to: v.received.get(m.to.node) ?? m.to };
    case 'param-grad':
      // A micro-batch's share is not what the optimizer sees: the stage sends the step's sum itself.
      return v.own ? m : undefined;
    default:
      return undefined;
  }
}

/** Whether the driver wants a message: all of them, or those one of its watches wants. */
export function wanted(m: Message, mode: 'all' | 'watched', watches: readonly MessageFilter[]): boolean {
  return mode === 'all' || watches.some((w) => m.step % (w.every ?? 1) === 0 && matchesFilter(w, m));
}
