// The trainer: the training loop as a stream. Each step is the recipe in step.ts
//   forward wave -> loss -> backward wave -> param grads -> clipping policy -> optimizer,
// run eagerly here (or compiled elsewhere through a `Stepper`), and `fit` returns an Observable of events (batch, epoch, checkpoint, done). Progress bars, logs
// and early stopping are subscribers and operators; unsubscribing stops the loop.
import { inject, injectable } from 'inversify';
import { Observable } from 'rxjs';
import { type CheckpointStore, saveCheckpointTo } from '../checkpoint/checkpoint.js';
import { TOKENS, type TrainerOptions } from '../di/tokens.js';
import { dispose, tidy } from '../engine.js';
import { ConfigError, TrainingError } from '../errors.js';
import type { Runtime } from '../graph/runtime.js';
import { deriveSeed } from '../random/prng.js';
import type { Tensor } from '../tensor.js';
import { arrayDataset } from '../data/array-dataset.js';
import type { Batch, Dataset } from '../data/dataset.js';
import type { ClippingPolicy } from './clipping/clipping-policy.js';
import type { TrainEvent } from './events.js';
import type { Optimizer } from './optimizer.js';
import type { LrSchedule } from './schedules/lr-schedule.js';
import { stepGradients, stepUpdates } from './step.js';

export interface FitOptions {
  /** Epochs to run (default 1; unbounded when `steps` or `timeBudgetSeconds` is given). */
  readonly epochs?: number;
  /** Stop once this many updates have been applied in total (resumed steps count). */
  readonly steps?: number;
  /** Stop after this many seconds of training. */
  readonly timeBudgetSeconds?: number;
  /** The graph output to minimize (default 'loss'). */
  readonly loss?: string;
  readonly validation?: Dataset;
  /** With in-memory data: batch size, shuffle, seed. */
  readonly batchSize?: number;
  readonly shuffle?: boolean;
  /** Seeds shuffling and dropout (default 0). */
  readonly seed?: number;
  /** Save a checkpoint every `everySteps` updates and at the end. */
  readonly checkpoint?: {
    /** Where checkpoints go (a folder: `checkpointFolder(dir)` from `@ganglion/core/node`). */
    readonly store: CheckpointStore;
    readonly everySteps?: number;
    readonly meta?: () => Record<string, unknown>;
  };
  /** Tokens in a batch, for tokens/s (default: size of `labels`, else the batch size). */
  readonly tokensPerBatch?: (batch: Batch) => number;
  /**
   * Run each update somewhere else (e.g. a training step compiled to ONNX and run in
   * onnxruntime): `step` applies one update; `sync` brings its weights and optimizer state back
   * into the runtime and this trainer before validation and checkpoints.
   */
  readonly stepper?: Stepper;
}

export interface Stepper {
  step(batch: Batch): Promise<StepResult>;
  /** May be asynchronous (weights held by other processes); `fit` waits for it. */
  sync(): void | Promise<void>;
  /** Mean loss per example over a dataset where the steps run, by `meanLoss` (default: the eager runtime after `sync`). */
  evaluate?(data: Dataset): Promise<number>;
}

export interface StepResult {
  readonly step: number;
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
}

const now = () => performance.now() / 1000;
// Browsers have no setImmediate; there a zero timeout lets the page paint and handle input.
const yieldToEventLoop = () =>
  new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

function defaultTokens(batch: Batch): number {
  const labels = batch.labels;
  if (labels) return labels.size;
  const first = Object.values(batch)[0];
  return typeof first?.shape[0] === 'number' ? first.shape[0] : 0;
}

/** Examples in a batch: the first axis of its first tensor that has one (1 if all are scalars). */
export function examplesIn(batch: Batch): number {
  const t = Object.values(batch).find((v) => v.rank > 0);
  const n = t ? t.shape[0] : 1;
  if (typeof n !== 'number')
    throw new TrainingError(`evaluate: a batch's first axis must be concrete, got ${String(n)}`);
  return n;
}

/**
 * The mean loss per example over `data` (epoch 0's batches). `lossOf(batch)` is one batch's loss,
 * a mean over its examples (MSE over its elements, cross-entropy over its tokens at a fixed
 * sequence length); each is weighted by the batch's example count, so the result is the loss of
 * the whole dataset taken as one batch, however it was cut. Batches are disposed. The one
 * averaging rule for every evaluator: the eager `Trainer.evaluate` and steppers that evaluate
 * elsewhere (onnxruntime).
 *
 *   await meanLoss(valData, (batch) => runtime.forward(batch).loss.dataSync()[0]);
 */
export async function meanLoss(data: Dataset, lossOf: (batch: Batch) => number | Promise<number>): Promise<number> {
  let sum = 0;
  let examples = 0;
  let batches = 0;
  for await (const batch of data.batches(0)) {
    try {
      batches++;
      const n = examplesIn(batch);
      if (n > 0) {
        sum += (await lossOf(batch)) * n;
        examples += n;
      }
    } finally {
      dispose(batch);
    }
  }
  if (examples === 0)
    throw new TrainingError(`evaluate: the dataset yielded ${batches === 0 ? 'no batches' : 'only empty batches'}`);
  return sum / examples;
}

@injectable()
export class Trainer {
  /** Updates applied so far. */
  step = 0;
  /** The epoch in progress, and how many of its batches are done (for resuming). */
  epoch = 0;
  batchInEpoch = 0;

  constructor(
    @inject(TOKENS.Optimizer) readonly optimizer: Optimizer,
    @inject(TOKENS.ClippingPolicy) readonly clipping: ClippingPolicy,
    @inject(TOKENS.LrSchedule) readonly schedule: LrSchedule,
    @inject(TOKENS.TrainerOptions) readonly options: TrainerOptions,
  ) {
    if (!(options.lr > 0) || !Number.isFinite(options.lr))
      throw new ConfigError(`learning rate must be a finite number > 0, got ${options.lr}`);
  }

  /**
   * One update. A non-finite loss or gradient raises TrainingError before anything is applied,
   * so the parameters stay those of the last good step.
   */
  trainStep(runtime: Runtime, batch: Batch, opts: { loss?: string; seed?: number } = {}): StepResult {
    const next = this.step + 1;
    const result = tidy(() => {
      const g = stepGradients(runtime, batch, {
        loss: opts.loss ?? 'loss',
        seed: deriveSeed(opts.seed ?? 0, 'step', next),
        step: next,
      });
      const loss = g.loss.dataSync()[0];
      const gradNorm = g.gradNorm.dataSync()[0];
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new TrainingError(
          `step ${next}: the loss is ${loss} and the gradient norm ${gradNorm}; training stopped and the weights of step ${this.step} are kept`,
        );
      }
      const lr = this.schedule.lrAt(next, this.options.lr);
      const scalars = this.optimizer.stepScalars(lr, this.optimizer.stepCount + 1);
      const updates = stepUpdates(
        this,
        g.paramGrads,
        g.gradNorm,
        (k) => runtime.params.get(k),
        (k) => this.optimizer.slotsOf(k),
        scalars,
      );
      this.optimizer.commit(runtime.params, updates);
      return { step: next, loss, gradNorm, lr };
    });
    this.step = next;
    return result;
  }

  /**
   * Mean loss per example over a dataset (epoch 0's batches), forward only (no dropout): see
   * `meanLoss`. A short last batch counts for the examples it holds.
   */
  async evaluate(runtime: Runtime, data: Dataset, opts: { loss?: string } = {}): Promise<number> {
    return meanLoss(data, (batch) => tidy(() => runtime.forward(batch)[opts.loss ?? 'loss'].dataSync()[0]));
  }

  /** The graph outputs for some inputs (inference mode). */
  predict(runtime: Runtime, feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    return runtime.forward(feeds);
  }

  /** Save params, optimizer state and the trainer's position into `store` (e.g. a folder, atomically). */
  async save(store: CheckpointStore, runtime: Runtime, extraMeta: Record<string, unknown> = {}): Promise<string> {
    return saveCheckpointTo(store, {
      graph: runtime.graph,
      params: runtime.params,
      optimizerState: this.optimizer.getState(),
      meta: { ...extraMeta, step: this.step, epoch: this.epoch, batchInEpoch: this.batchInEpoch },
    });
  }

  /** Continue from a checkpoint's meta (after loading its params and optimizer state). */
  resumeFrom(meta: { step?: unknown; epoch?: unknown; batchInEpoch?: unknown }): void {
    this.step = Number(meta.step ?? 0);
    this.epoch = Number(meta.epoch ?? 0);
    this.batchInEpoch = Number(meta.batchInEpoch ?? 0);
  }

  /**
   * Train. `data` is a dataset of batches, or in-memory tensors (first axis = examples) cut into
   * batches with `batchSize`/`shuffle`/`seed`.
   *
   *   trainer.fit(runtime, lmDataset(tokens, { seqLen: 64, batchSize: 32 }), { epochs: 2 })
   *     .subscribe((e) => e.type === 'batch' && console.log(e.step, e.loss));
   */
  fit(
    runtime: Runtime,
    data: Dataset | Readonly<Record<string, Tensor>>,
    opts: FitOptions = {},
  ): Observable<TrainEvent> {
    const dataset: Dataset =
      typeof (data as Dataset).batches === 'function'
        ? (data as Dataset)
        : arrayDataset(data as Record<string, Tensor>, {
            batchSize: opts.batchSize ?? 32,
            shuffle: opts.shuffle ?? true,
            seed: opts.seed,
          });
    const bounded = opts.steps !== undefined || opts.timeBudgetSeconds !== undefined;
    const epochs = opts.epochs ?? (bounded ? Infinity : 1);
    const tokensOf = opts.tokensPerBatch ?? defaultTokens;
    return new Observable<TrainEvent>((subscriber) => {
      let stopped = false;
      const start = now();
      const run = async () => {
        let reason: 'epochs' | 'steps' | 'time-budget' = 'epochs';
        let lastVal: number | undefined;
        const validate = async () => {
          if (!opts.validation) return undefined;
          if (opts.stepper?.evaluate) return opts.stepper.evaluate(opts.validation);
          await opts.stepper?.sync();
          return this.evaluate(runtime, opts.validation, { loss: opts.loss });
        };
        const checkpoint = async () => {
          if (!opts.checkpoint) return;
          await opts.stepper?.sync();
          const path = await this.save(opts.checkpoint.store, runtime, opts.checkpoint.meta?.() ?? {});
          subscriber.next({ type: 'checkpoint', step: this.step, path });
        };
        outer: for (; this.epoch < epochs; this.epoch++, this.batchInEpoch = 0) {
          let sum = 0;
          let count = 0;
          let index = 0;
          for await (const batch of dataset.batches(this.epoch)) {
            if (stopped) {
              dispose(batch);
              return;
            }
            if (index++ < this.batchInEpoch) {
              dispose(batch); // already trained on before a resume
              continue;
            }
            const t0 = now();
            const r = opts.stepper
              ? await opts.stepper.step(batch)
              : this.trainStep(runtime, batch, { loss: opts.loss, seed: opts.seed });
            if (opts.stepper) this.step = r.step;
            const tokens = tokensOf(batch);
            dispose(batch);
            this.batchInEpoch++;
            sum += r.loss;
            count++;
            subscriber.next({
              type: 'batch',
              epoch: this.epoch,
              step: r.step,
              loss: r.loss,
              gradNorm: r.gradNorm,
              lr: r.lr,
              tokensPerSecond: tokens / Math.max(now() - t0, 1e-9),
              elapsed: now() - start,
            });
            if (opts.checkpoint?.everySteps && this.step % opts.checkpoint.everySteps === 0) await checkpoint();
            if (opts.steps !== undefined && this.step >= opts.steps) reason = 'steps';
            else if (opts.timeBudgetSeconds !== undefined && now() - start >= opts.timeBudgetSeconds)
              reason = 'time-budget';
            if (reason !== 'epochs') {
              lastVal = await validate();
              subscriber.next({
                type: 'epoch',
                epoch: this.epoch,
                step: this.step,
                trainLoss: sum / count,
                valLoss: lastVal,
                partial: true,
                elapsed: now() - start,
              });
              break outer;
            }
            await yieldToEventLoop();
          }
          if (count === 0 && this.batchInEpoch === 0)
            throw new TrainingError(`epoch ${this.epoch}: the dataset yielded no batches`);
          lastVal = await validate();
          subscriber.next({
            type: 'epoch',
            epoch: this.epoch,
            step: this.step,
            trainLoss: count ? sum / count : NaN,
            valLoss: lastVal,
            partial: false,
            elapsed: now() - start,
          });
        }
        if (stopped) return;
        await checkpoint();
        subscriber.next({ type: 'done', steps: this.step, seconds: now() - start, valLoss: lastVal, reason });
        subscriber.complete();
      };
      run().catch((e) => subscriber.error(e));
      return () => {
        stopped = true;
      };
    });
  }
}
