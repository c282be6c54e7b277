// RxJS operators over training events: early stopping and stop-on-NaN. Unsubscribing from
// `fit(...)` stops the training loop, so completing the stream early stops training.
import { type MonoTypeOperatorFunction, takeWhile, tap } from 'rxjs';
import { TrainingError } from '../errors.js';
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

/** Error the stream (and so stop training) on a non-finite batch loss or gradient norm. */
export function stopOnNaN(): MonoTypeOperatorFunction<TrainEvent> {
  return tap((e) => {
    if (e.type === 'batch' && (!Number.isFinite(e.loss) || !Number.isFinite(e.gradNorm))) {
      throw new TrainingError(`step ${e.step}: loss ${e.loss}, gradient norm ${e.gradNorm}; training stopped`);
    }
  });
}
