// Step decay (torch.optim.lr_scheduler.StepLR, counted in updates): lr · gamma^floor((step−1) / stepSize).
// Options: stepSize (updates, > 0), gamma (default 0.1).
import { inject, injectable } from 'inversify';
import { TOKENS } from '../../di/tokens.js';
import { type OptionsOf, definePlugin } from '../../di/plugin-registry.js';
import type { LrSchedule } from './lr-schedule.js';

const options = {
  stepSize: { type: 'number', integer: true, min: 1, description: 'updates between decays' },
  gamma: { type: 'number', min: 0, exclusiveMin: true, default: 0.1, description: 'factor applied at each decay' },
} as const;

@injectable()
export class StepDecaySchedule implements LrSchedule {
  readonly name = 'step';
  readonly stepSize: number;
  readonly gamma: number;

  constructor(@inject(TOKENS.ScheduleOptions) opts: OptionsOf<typeof options>) {
    ({ stepSize: this.stepSize, gamma: this.gamma } = opts);
  }

  lrAt(step: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor((step - 1) / this.stepSize);
  }
}

export const stepDecaySchedulePlugin = definePlugin({
  kind: 'schedule',
  name: 'step',
  description: 'multiply the learning rate by gamma every stepSize updates (torch.optim.lr_scheduler.StepLR)',
  options,
  shorthand: 'stepSize',
  class: StepDecaySchedule,
});
