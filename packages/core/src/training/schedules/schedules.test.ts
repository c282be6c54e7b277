// Learning-rate schedules against their formulas, evaluated by hand.
import { describe, expect, test } from 'vitest';
import { TOKENS } from '../../di/tokens.js';
import { createTrainingContainer } from '../create-trainer.js';

const schedule = (name: string, opts: Record<string, number> = {}) =>
  createTrainingContainer({ schedule: name, scheduleOptions: opts }).get(TOKENS.LrSchedule);

describe('LR schedules', () => {
  test('constant', () => {
    expect([1, 50, 1000].map((s) => schedule('constant').lrAt(s, 0.1))).toEqual([0.1, 0.1, 0.1]);
  });

  test('step decay', () => {
    const s = schedule('step', { stepSize: 10, gamma: 0.5 });
    expect([1, 10, 11, 20, 21].map((t) => s.lrAt(t, 1))).toEqual([1, 1, 0.5, 0.5, 0.25]);
  });

  test('cosine with linear warm-up', () => {
    const s = schedule('cosine', { totalSteps: 110, warmupSteps: 10, minLr: 0.01 });
    expect(s.lrAt(1, 1)).toBeCloseTo(0.1, 15);
    expect(s.lrAt(10, 1)).toBeCloseTo(1, 15);
    expect(s.lrAt(60, 1)).toBeCloseTo(0.01 + 0.99 * 0.5, 15); // halfway: cos(π/2) = 0
    expect(s.lrAt(110, 1)).toBeCloseTo(0.01, 15);
    expect(s.lrAt(500, 1)).toBeCloseTo(0.01, 15);
  });

  test('bad settings', () => {
    expect(() => schedule('cosine', { totalSteps: 10, warmupSteps: 10 })).toThrow(
      /^schedule "cosine": option "warmupSteps" must be < totalSteps \(10\), got 10$/,
    );
    expect(() => schedule('step', {})).toThrow(/^schedule "step": option "stepSize" is required: a whole number >= 1$/);
    expect(() => schedule('step', { stepSize: 2.5 })).toThrow(
      /^schedule "step": option "stepSize" must be a whole number >= 1, got 2.5$/,
    );
  });
});
