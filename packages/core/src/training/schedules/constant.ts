// Constant learning rate.
import { injectable } from 'inversify';
import { definePlugin } from '../../di/plugin-registry.js';
import type { LrSchedule } from './lr-schedule.js';

@injectable()
export class ConstantSchedule implements LrSchedule {
  readonly name = 'constant';

  lrAt(_step: number, baseLr: number): number {
    return baseLr;
  }
}

export const constantSchedulePlugin = definePlugin({
  kind: 'schedule',
  name: 'constant',
  description: 'the base learning rate at every step',
  options: {},
  class: ConstantSchedule,
});
