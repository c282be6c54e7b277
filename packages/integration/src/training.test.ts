// Training end to end, as a user outside the packages: plugins bound through DI (a custom
// optimizer and a custom clipping policy defined here), resume from a checkpoint in a fresh
// container, a NaN loss that stops training with the last good weights kept, early stopping, and a
// real learning test on a small text.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Container, ContainerModule, inject, injectable } from 'inversify';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Backend,
  CharTokenizer,
  type ClippingPolicy,
  type Graph,
  GraphBuilder,
  type CreateTrainerOptions,
  type OptionsOf,
  Runtime,
  SlotOptimizer,
  TOKENS,
  type StepScalars,
  type Tensor,
  TrainingError,
  type TrainEvent,
  clip,
  createTrainer,
  createTrainingContainer,
  definePlugin,
  earlyStopping,
  lmDataset,
  mul,
  setBackend,
  sub,
  tensor,
  trainValidationSplit,
} from '@ganglion/core';
import { checkpointFolder, loadCheckpoint } from '@ganglion/core/node';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import {
  Dense,
  Dropout,
  Embedding,
  LSTM,
  SoftmaxCrossEntropy,
  bindLayerResolver,
  layersModule,
} from '@ganglion/layers';
import { tinyCorpus, unigramEntropy } from './corpus.js';

let backend: Backend;
beforeAll(async () => {
  backend = await TfjsBackend.create('cpu');
  setBackend(backend);
});

function charLM(vocabSize: number, units = 16, dropout = 0): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  let h = g.node('lstm', new LSTM({ units }), g.node('embed', new Embedding({ vocabSize, dim: 8 }), ids));
  if (dropout > 0) h = g.node('drop', new Dropout({ rate: dropout }), h);
  const logits = g.node('head', new Dense({ units: vocabSize }), h);
  g.output('logits', logits);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

const text = tinyCorpus(120);
const tokenizer = CharTokenizer.fromText(text);
const tokens = tokenizer.encode(text);

/** The CLI's composition: every module, then the active plugins by name. */
function container(choice: CreateTrainerOptions & { lr: number }, ...extra: ContainerModule[]): Container {
  return createTrainingContainer({ ...choice, modules: [layersModule, ...extra], configure: bindLayerResolver });
}

// ---- user-defined plugins (nothing in the packages knows them) ----

/** Sign descent: p ← p − lr·sign(g)·scale, with a counter slot to show state handling. */
const signDescentOptions = {
  scale: { type: 'number', default: 1, min: 0, description: 'step length in units of lr' },
} as const;

@injectable()
class SignDescent extends SlotOptimizer {
  readonly name = 'sign-descent';
  readonly scale: number;
  constructor(@inject(TOKENS.OptimizerOptions) opts: OptionsOf<typeof signDescentOptions>) {
    super();
    this.scale = opts.scale;
  }
  stepScalars(lr: number) {
    return { step: lr * this.scale };
  }
  update(p: Tensor, g: Tensor, _slots: Readonly<Record<string, Tensor>>, { step }: StepScalars) {
    const s = clip(mul(g, 1e6), -1, 1); // ≈ sign(g), smooth enough for this test
    return { param: sub(p, mul(s, step)), slots: {} };
  }
}

const signDescent = definePlugin({
  kind: 'optimizer',
  name: 'sign-descent',
  description: 'p ← p − lr·scale·sign(g)',
  options: signDescentOptions,
  class: SignDescent,
});

/** Clips every gradient element to ±0.01 and counts calls. */
@injectable()
class TinyClip implements ClippingPolicy {
  readonly name = 'tiny';
  calls = 0;
  clip(grads: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    this.calls++;
    return new Map([...grads].map(([k, g]) => [k, clip(g, -0.01, 0.01)]));
  }
}

describe('training through DI', () => {
  test('a custom optimizer and a custom clipping policy, bound in a test module, train a graph', async () => {
    const userModule = new ContainerModule(({ bind }) => {
      bind(TOKENS.Plugin).toConstantValue(signDescent);
      bind(TOKENS.ClippingPolicy).to(TinyClip).inSingletonScope();
    });
    const c = container({ lr: 0.01, optimizer: 'sign-descent', optimizerOptions: { scale: 1 } }, userModule);
    const trainer = c.get(TOKENS.Trainer);
    expect(trainer.optimizer).toBeInstanceOf(SignDescent);
    expect(trainer.clipping).toBeInstanceOf(TinyClip);
    const runtime = new Runtime(charLM(tokenizer.vocabSize), { seed: 1, backend });
    const before = runtime.params.get('head.kernel').toArray();
    const events = await lastValueFrom(
      trainer
        .fit(runtime, lmDataset(tokens, { seqLen: 16, batchSize: 8, shuffle: true, seed: 1 }), { steps: 30 })
        .pipe(toArray()),
    );
    const losses = events.filter((e) => e.type === 'batch').map((e) => (e as { loss: number }).loss);
    expect(losses.length).toBe(30);
    expect((trainer.clipping as TinyClip).calls).toBe(30);
    // Sign descent with lr 0.01 moves each weight by exactly ±0.01 (or 0) per step.
    const after = runtime.params.get('head.kernel').toArray();
    const moved = after.map((v, i) => Math.abs(v - before[i]));
    expect(Math.max(...moved)).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(losses[29]).toBeLessThan(losses[0]);
  });
});

describe('resume', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ganglion-resume-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('20 steps straight equal 10 steps, save, load in a fresh container, 10 more', async () => {
    const choice = {
      lr: 0.01,
      optimizer: 'adam',
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 1 },
      schedule: 'cosine',
      scheduleOptions: { totalSteps: 20, warmupSteps: 3 },
    };
    const data = () => lmDataset(tokens, { seqLen: 16, batchSize: 8, shuffle: true, seed: 3 });
    const graph = charLM(tokenizer.vocabSize, 16, 0.2);
    const batchLosses = (events: TrainEvent[]) =>
      events.filter((e) => e.type === 'batch').map((e) => (e as { loss: number }).loss);

    const straight = new Runtime(graph, { seed: 7, backend });
    const t1 = container(choice).get(TOKENS.Trainer);
    const lossesStraight = batchLosses(
      await lastValueFrom(t1.fit(straight, data(), { steps: 20, seed: 5 }).pipe(toArray())),
    );

    const first = new Runtime(graph, { seed: 7, backend });
    const t2 = container(choice).get(TOKENS.Trainer);
    const lossesA = batchLosses(
      await lastValueFrom(
        t2.fit(first, data(), { steps: 10, seed: 5, checkpoint: { store: checkpointFolder(dir) } }).pipe(toArray()),
      ),
    );

    const fresh = container(choice);
    const loaded = await loadCheckpoint(dir, { resolve: fresh.get(TOKENS.LayerResolver), backend });
    const resumed = new Runtime(loaded.graph, { params: loaded.params, backend });
    const t3 = fresh.get(TOKENS.Trainer);
    t3.optimizer.setState(loaded.optimizerState!, backend);
    t3.resumeFrom(loaded.meta);
    const lossesB = batchLosses(await lastValueFrom(t3.fit(resumed, data(), { steps: 20, seed: 5 }).pipe(toArray())));

    expect([...lossesA, ...lossesB]).toEqual(lossesStraight);
    for (const key of straight.params.keys())
      expect(resumed.params.get(key).toArray(), key).toEqual(straight.params.get(key).toArray());
  });
});

describe('non-finite loss', () => {
  test('stops training with a TrainingError and keeps the weights of the last good step', async () => {
    const trainer = createTrainer({ optimizer: 'sgd', lr: 0.1 });
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 2]);
    const t = g.input('target', ['batch', 1]);
    const y = g.node('dense', new Dense({ units: 1 }), x);
    g.output('loss', g.node('loss', new (await import('@ganglion/layers')).MSE(), { prediction: y, target: t }));
    const runtime = new Runtime(g.build(), { seed: 1, backend });
    const good = {
      x: tensor([
        [1, 2],
        [3, 4],
      ]),
      target: tensor([[1], [2]]),
    };
    const bad = {
      x: tensor([
        [1, Number.NaN],
        [3, 4],
      ]),
      target: tensor([[1], [2]]),
    };
    const batches = [good, good, bad, good];
    const snapshots: number[][] = [];
    const events: TrainEvent[] = [];
    const data = {
      size: 4,
      *batches() {
        for (const b of batches) {
          snapshots.push(runtime.params.get('dense.kernel').toArray());
          yield { x: tensor(b.x.toArray(), b.x.shape), target: tensor(b.target.toArray(), b.target.shape) };
        }
      },
    };
    const error = await new Promise<unknown>((resolve) =>
      trainer
        .fit(runtime, data, { epochs: 1 })
        .subscribe({ next: (e) => events.push(e), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(error).toBeInstanceOf(TrainingError);
    expect(String((error as Error).message)).toMatch(
      /step 3: the loss is NaN and the gradient norm NaN; training stopped and the weights of step 2 are kept/,
    );
    expect(events.filter((e) => e.type === 'batch').length).toBe(2);
    expect(runtime.params.get('dense.kernel').toArray()).toEqual(snapshots[2]);
    expect(trainer.step).toBe(2);
  });
});

describe('learning', () => {
  test('a tiny char-LSTM trained with fit drives its loss well below the unigram entropy', async () => {
    const corpus = tinyCorpus(400, 2);
    const tok = CharTokenizer.fromText(corpus);
    const { train, validation } = trainValidationSplit(tok.encode(corpus), 0.1);
    const h = unigramEntropy(corpus);
    const runtime = new Runtime(charLM(tok.vocabSize, 32), { seed: 3, backend });
    const trainer = createTrainer({
      optimizer: 'adam',
      lr: 0.02,
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 1 },
    });
    const events = await lastValueFrom(
      trainer
        .fit(runtime, lmDataset(train, { seqLen: 24, batchSize: 16, shuffle: true, seed: 1 }), {
          steps: 80,
          validation: lmDataset(validation, { seqLen: 24, batchSize: 8 }),
        })
        .pipe(toArray()),
    );
    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    const valLoss = (done as { valLoss: number }).valLoss;
    // Unigram entropy of this text is about 2.7 nats/char (seen: validation loss 0.40 after 80 steps); the grammar's words and sentence
    // structure leave far less uncertainty than that for a model that learns them.
    expect(h).toBeGreaterThan(2.5);
    expect(valLoss).toBeLessThan(0.5 * h);
  });

  test('early stopping ends fit once validation stops improving', async () => {
    const trainer = createTrainer({ optimizer: 'sgd', lr: 1e-9 }); // too small to improve anything
    const runtime = new Runtime(charLM(tokenizer.vocabSize), { seed: 1, backend });
    const events = await lastValueFrom(
      trainer
        .fit(runtime, lmDataset(tokens, { seqLen: 16, batchSize: 8 }), {
          epochs: 50,
          validation: lmDataset(tokens, { seqLen: 16, batchSize: 8 }),
        })
        .pipe(earlyStopping({ patience: 2, minDelta: 1e-3 }), toArray()),
    );
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs.length).toBe(3); // the first sets the best, two more without improvement stop it
    expect(events.some((e) => e.type === 'done')).toBe(false);
  });
});
