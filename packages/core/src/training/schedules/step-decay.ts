// Step decay (torch.optim.lr_scheduler.StepLR, counted in updates): lr · gamma^floor((step−1) / stepSize).
// Options: stepSize (updates, > 0), gamma (default 0.1).
import { inject, injectable } from 'inversify';
import { TOKENS, type ScheduleOptions } from '../../di/tokens.js';
import { ConfigError } from '../../errors.js';
import type { LrSchedule } from './lr-schedule.js';

@injectable()
export class StepDecaySchedule implements LrSchedule {
  readonly name = 'step';
  readonly stepSize: number;
  readonly gamma: number;

  constructor(@inject(TOKENS.ScheduleOptions) opts: ScheduleOptions) {
    this.stepSize = Number(opts.stepSize);
    this.gamma = Number(opts.gamma ?? 0.1);
    if (!(this.stepSize > 0) || !Number.isInteger(this.stepSize)) throw new ConfigError(`step decay: "stepSize" must be a whole number > 0, got ${String(opts.stepSize)}`);
    if (!(this.gamma > 0)) throw new ConfigError(`step decay: "gamma" must be > 0, got ${String(opts.gamma)}`);
  }

  lrAt(step: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor((step - 1) / this.stepSize);
  }
}
