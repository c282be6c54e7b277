// The learning-rate schedule contract: the learning rate of update number `step` (1-based).
export interface LrSchedule {
  readonly name: string;
  lrAt(step: number, baseLr: number): number;
}
