// What `Trainer.fit` emits.
export interface BatchEvent {
  readonly type: 'batch';
  readonly epoch: number;
  /** Updates applied so far, this one included. */
  readonly step: number;
  readonly loss: number;
  /** Global L2 norm of the gradients before clipping. */
  readonly gradNorm: number;
  readonly lr: number;
  readonly tokensPerSecond: number;
  /** Seconds since fit started. */
  readonly elapsed: number;
}

export interface EpochEvent {
  readonly type: 'epoch';
  readonly epoch: number;
  readonly step: number;
  /** Mean training loss over the batches of this epoch run in this fit. */
  readonly trainLoss: number;
  readonly valLoss?: number;
  /** True when the epoch was cut short by a step or time budget. */
  readonly partial: boolean;
  readonly elapsed: number;
}

export interface CheckpointEvent {
  readonly type: 'checkpoint';
  readonly step: number;
  readonly path: string;
}

export interface DoneEvent {
  readonly type: 'done';
  readonly steps: number;
  readonly seconds: number;
  readonly valLoss?: number;
  readonly reason: 'epochs' | 'steps' | 'time-budget';
}

export type TrainEvent = BatchEvent | EpochEvent | CheckpointEvent | DoneEvent;
