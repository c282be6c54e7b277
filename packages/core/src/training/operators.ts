// RxJS operators over training events: early stopping. Unsubscribing from
// `fit(...)` stops the training loop, so completing the stream early stops training.
import { type MonoTypeOperatorFunction, takeWhile } from 'rxjs';
import type { TrainEvent } from './events.js';

/**
 * Stop when the validation loss has not improved by more than `minDelta` for `patience` epochs.
 *
 *   trainer.fit(runtime, data, { epochs: 100, validation }).pipe(earlyStopping({ patience: 3 }))
 */
export function earlyStopping(opts: { patience: number; minDelta?: number }): MonoTypeOperatorFunction<TrainEvent> {
  let best = Infinity;
  let bad = 0;
  return takeWhile((e) => {
    if (e.type !== 'epoch' || e.valLoss === undefined) return true;
    if (e.valLoss < best - (opts.minDelta ?? 0)) {
      best = e.valLoss;
      bad = 0;
    } else {
      bad++;
    }
    return bad < opts.patience;
  }, true);
}
