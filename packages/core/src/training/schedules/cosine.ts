// Cosine decay with linear warm-up:
//   step ≤ warmupSteps: lr · step / warmupSteps
//   after: minLr + (lr − minLr) · ½(1 + cos(π · progress)),  progress = (step − warmupSteps) / (totalSteps − warmupSteps), capped at 1.
// Options: totalSteps (> 0), warmupSteps (default 0), minLr (default 0).
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import type { LrSchedule } from './lr-schedule.js';

const options = {
  totalSteps: { type: 'number', integer: true, min: 1, description: 'updates until the learning rate reaches minLr' },
  warmupSteps: { type: 'number', integer: true, min: 0, default: 0, description: 'updates of linear warm-up from 0' },
  minLr: { type: 'number', min: 0, default: 0, description: 'the final learning rate' },
} as const;

@injectable()
export class CosineSchedule implements LrSchedule {
  readonly name = 'cosine';
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly minLr: number;

  constructor(@inject(TOKENS.ScheduleOptions) opts: OptionsOf<typeof options>) {
    ({ totalSteps: this.totalSteps, warmupSteps: this.warmupSteps, minLr: this.minLr } = opts);
  }

  lrAt(step: number, baseLr: number): number {
    if (this.warmupSteps > 0 && step <= this.warmupSteps) return (baseLr * step) / this.warmupSteps;
    const progress = Math.min(1, (step - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    return this.minLr + (baseLr - this.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}

export const cosineSchedulePlugin = definePlugin({
  kind: 'schedule',
  name: 'cosine',
  description: 'linear warm-up, then cosine decay to minLr at totalSteps',
  options,
  shorthand: 'totalSteps',
  check: (o) =>
    o.warmupSteps < o.totalSteps
      ? undefined
      : `option "warmupSteps" must be < totalSteps (${o.totalSteps}), got ${o.warmupSteps}`,
  class: CosineSchedule,
});
