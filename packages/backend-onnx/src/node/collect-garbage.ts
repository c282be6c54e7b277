// A full garbage collection on Node, for split training steps (see compiled-trainer.ts).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/**
 * A full garbage collection, when the runtime allows one (`globalThis.gc`, or V8's gc exposed in a
 * new context). onnxruntime-node 1.30 returns every output as a new copy, even one it wrote into
 * a preallocated buffer, so each split step leaves a copy of the gradients and of every updated
 * weight and slot for the collector; collected before the next phase, that memory is reused
 * instead of adding to the peak. Measured on GPT shapes: 85M parameters, peak RSS 2.49 → 2.15 GB;
 * 25M, 1.21 → 1.16 GB; at the same step time (a collection takes a few ms).
 */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      const exposed = (globalThis as { gc?: () => void }).gc;
      if (exposed) gc = exposed;
      else {
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc') as () => void;
      }
    } catch {
      gc = null;
    }
  }
  gc?.();
}
