// Constant learning rate.
import { injectable } from 'inversify';
import type { LrSchedule } from './lr-schedule.js';

@injectable()
export class ConstantSchedule implements LrSchedule {
  readonly name = 'constant';

  lrAt(_step: number, baseLr: number): number {
    return baseLr;
  }
}
