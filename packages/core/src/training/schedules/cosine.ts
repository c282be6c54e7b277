// Cosine decay with linear warm-up:
//   step ≤ warmup: lr · step / warmup
//   after: minLr + (lr − minLr) · ½(1 + cos(π · progress)),  progress = (step − warmup) / (total − warmup), capped at 1.
// Options: totalSteps (> 0), warmupSteps (default 0), minLr (default 0).
import { inject, injectable } from 'inversify';
import { TOKENS, type ScheduleOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import type { LrSchedule } from './lr-schedule.js';

@injectable()
export class CosineSchedule implements LrSchedule {
  readonly name = 'cosine';
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly minLr: number;

  constructor(@inject(TOKENS.ScheduleOptions) opts: ScheduleOptions) {
    this.totalSteps = Number(opts.totalSteps);
    this.warmupSteps = Number(opts.warmupSteps ?? 0);
    this.minLr = Number(opts.minLr ?? 0);
    if (!(this.totalSteps > 0)) throw new ConfigError(`cosine schedule: "totalSteps" must be > 0, got ${String(opts.totalSteps)}`);
    if (!(this.warmupSteps >= 0 && this.warmupSteps < this.totalSteps)) throw new ConfigError(`cosine schedule: "warmupSteps" must be in [0, totalSteps), got ${String(opts.warmupSteps)}`);
  }

  lrAt(step: number, baseLr: number): number {
    if (this.warmupSteps > 0 && step <= this.warmupSteps) return (baseLr * step) / this.warmupSteps;
    const progress = Math.min(1, (step - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    return this.minLr + (baseLr - this.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}
