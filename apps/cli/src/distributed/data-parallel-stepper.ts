// The data-parallel training step: a Trainer's `Stepper` that runs one rank's share of each batch.
// Every rank reads the same global batches (the same dataset, seed and position); rank r takes rows
// [⌊r·n/W⌋, ⌊(r+1)·n/W⌋) of each and runs the compiled `gradients` graph on them (split mode,
// backend-onnx). Its gradients and loss, weighted by its share of the rows, go into one flat vector
// that AllReduce sums over the ranks: the result is the whole batch's mean gradient, for a loss that
// is a mean over rows (a language model's mean over tokens at a fixed length; a masked LM's windows
// each mask the same count). The global norm is taken of that sum in float64 in this file, the same
// bits on every rank, and every rank runs the same `apply` graph with it: the global-norm clip sees
// the reduced gradient, and the weights stay bit-equal. Every `checkEvery` steps the ranks compare
// sha256 hashes of their weights, and a difference stops the run. The position in the data
// (epoch, batch) is the global one, so a checkpoint resumes on any world size.
// Before the first step the ranks agree (RankGroup.agree) on a configuration: the graph, the
// weights and optimizer state they start from, the position, the optimizer, clipping, schedule,
// learning rate and the caller's settings (batch, data, steps); a difference is one line naming it.
//
//   const stepper = await dataParallelStepper(runtime, trainer, { group, link, settings: { batch: '32' } });
//   trainer.fit(runtime, data, { steps: 100, stepper });
import { createHash } from 'node:crypto';
import {
  type Batch,
  type Dataset,
  type Runtime,
  type StepResult,
  type Stepper,
  Tensor,
  type Trainer,
  TrainingError,
} from '@ganglion/core';
import {
  type CompileOptions,
  type CompiledTrainer,
  type FeedValue,
  SPLIT_SESSION_OPTIONS,
  compileTrainStep,
  evaluateOnnx,
} from '@ganglion/backend-onnx/node';
import { AllReduce } from './all-reduce.js';
import type { Link } from './link.js';
import { DistributedError, type RankConfig, type RankGroup, configHash } from './rank-group.js';

export interface DataParallelOptions {
  readonly group: RankGroup;
  readonly link: Link;
  /** Settings every rank must share beyond what the runtime and trainer hold (batch, data, steps). */
  readonly settings?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Micro-batches per rank and step, summed before the all-reduce (default 1). */
  readonly gradAccum?: number;
  /** onnxruntime's intra-op threads for this rank (default: SPLIT_SESSION_OPTIONS'). */
  readonly threads?: number;
  /** Compare the ranks' weights every this many steps (default 10). */
  readonly checkEvery?: number;
  /** Other compile options (the mode is always 'split'). */
  readonly compile?: CompileOptions;
}

export interface DataParallelStepper extends Stepper {
  readonly compiled: CompiledTrainer;
  /** The configuration hash the ranks agreed on. */
  readonly configHash: string;
  /** Steps after the first (which traces the graphs), their seconds, and the all-reduce's share. */
  stats(): { steps: number; stepSeconds: number; commSeconds: number; bytesSent: number; floats: number };
  /** Stop listening (the group stays open). */
  close(): Promise<void>;
}

/** A value's sha256, hex. */
function sha256(parts: Iterable<Uint8Array | string>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

const bytesOf = (a: ArrayLike<number>) => {
  const f = a instanceof Float32Array ? a : Float32Array.from(a);
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
};

/** sha256 over named float tensors in key order: names and float32 bytes. */
function hashTensors(entries: Iterable<readonly [string, ArrayLike<number>]>): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(sorted.flatMap(([k, v]) => [k, bytesOf(v)]));
}

/** A plugin instance's name and its own numbers, strings and booleans (β1, maxNorm, ...). */
function pluginSettings(plugin: object): string {
  const own = Object.entries(plugin)
    .filter(([, v]) => ['number', 'string', 'boolean'].includes(typeof v))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(own);
}

/** The rows [from, to) of every feed (views, no copy). */
function rowsOf(batch: Batch, from: number, to: number, n: number): Record<string, FeedValue> {
  const out: Record<string, FeedValue> = {};
  for (const [name, t] of Object.entries(batch)) {
    const data = t.dataSync();
    const per = data.length / n;
    out[name] = {
      data: (data as Float32Array).subarray(from * per, to * per),
      shape: [to - from, ...(t.shape.slice(1) as number[])],
      dtype: t.dtype,
    };
  }
  return out;
}

function rowCount(batch: Batch): number {
  const t = Object.values(batch).find((v) => v instanceof Tensor && v.rank > 0);
  const n = t?.shape[0];
  if (typeof n !== 'number') throw new TrainingError('data parallel: a batch needs a concrete first (row) dimension');
  return n;
}

/**
 * Compile this rank's step, agree with the other ranks on what is trained, and return the stepper.
 * Throws DistributedError (on every rank alike) when the ranks' configurations differ.
 */
export async function dataParallelStepper(
  runtime: Runtime,
  trainer: Trainer,
  opts: DataParallelOptions,
): Promise<DataParallelStepper> {
  const { group, link } = opts;
  const { rank, world } = group;
  const k = opts.gradAccum ?? 1;
  const checkEvery = opts.checkEvery ?? 10;
  const state = trainer.optimizer.getState();
  const config: Record<string, string> = {
    world: String(world),
    graph: sha256([JSON.stringify(runtime.graph.toJSON())]),
    weights: hashTensors(runtime.params.keys().map((key) => [key, runtime.params.get(key).dataSync()] as const)),
    'optimizer state': hashTensors([...state.tensors].map(([key, t]) => [key, t.dataSync()] as const)),
    position: `step ${trainer.step}, epoch ${trainer.epoch}, batch ${trainer.batchInEpoch}`,
    optimizer: `${trainer.optimizer.name} ${pluginSettings(trainer.optimizer)}`,
    clipping: `${trainer.clipping.name} ${pluginSettings(trainer.clipping)}`,
    schedule: `${trainer.schedule.name} ${pluginSettings(trainer.schedule)}`,
    lr: String(trainer.options.lr),
    'grad-accum': String(k),
  };
  for (const [key, v] of Object.entries(opts.settings ?? {})) if (v !== undefined) config[key] = String(v);
  const agreed: RankConfig = config;
  // Listen before agreeing: a rank that agrees first may say it is ready for step 1 at once, and
  // this rank's heartbeat that completes the agreement leaves after its subscriptions.
  const reduce = new AllReduce(link, group);
  try {
    await group.agree(agreed);
  } catch (e) {
    reduce.close();
    throw e;
  }

  const compiled = compileTrainStep(
    runtime,
    {
      optimizer: trainer.optimizer,
      clipping: trainer.clipping,
      schedule: trainer.schedule,
      lr: trainer.options.lr,
      step: trainer.step,
    },
    {
      ...opts.compile,
      mode: 'split',
      gradAccum: 1,
      sessionOptions: {
        ...(opts.compile?.sessionOptions ?? SPLIT_SESSION_OPTIONS),
        ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      },
    },
  );
  let keys: string[] | undefined;
  let flat = new Float32Array(0);
  let steps = 0;
  let stepSeconds = 0;
  let first = { commSeconds: 0, bytesSent: 0 };

  /** This rank's weighted gradients (and loss, last) in `flat`. */
  const localGradients = async (batch: Batch): Promise<ReadonlyMap<string, Float32Array>> => {
    const n = rowCount(batch);
    if (n < world * k)
      throw new TrainingError(
        `data parallel: a batch of ${n} rows cannot give each of ${world} ranks ${k > 1 ? `${k} micro-batches` : 'a row'}`,
      );
    const from = Math.floor((rank * n) / world);
    const to = Math.floor(((rank + 1) * n) / world);
    const weight = (to - from) / n;
    let loss = 0;
    let grads: ReadonlyMap<string, Float32Array>;
    if (k === 1) ({ loss, grads } = await compiled.gradients(rowsOf(batch, from, to, n)));
    else {
      if ((to - from) % k !== 0)
        throw new TrainingError(`data parallel: rank ${rank}'s ${to - from} rows do not split into ${k} micro-batches`);
      const m = (to - from) / k;
      compiled.zeroGradients();
      grads = new Map();
      for (let i = 0; i < k; i++) {
        const g = await compiled.gradients(rowsOf(batch, from + i * m, from + (i + 1) * m, n), {
          accumulate: true,
          scale: 1 / k,
        });
        loss += g.loss / k;
        grads = g.grads;
      }
    }
    if (!keys) {
      keys = [...grads.keys()].sort();
      flat = new Float32Array(keys.reduce((s, key) => s + grads.get(key)!.length, 0) + 1);
    }
    let at = 0;
    for (const key of keys) {
      const g = grads.get(key)!;
      for (let i = 0; i < g.length; i++) flat[at + i] = g[i] * weight;
      at += g.length;
    }
    flat[at] = loss * weight;
    return grads;
  };

  /** Write the reduced values back into the trainer's gradient buffers; return the loss and norm. */
  const reduced = (grads: ReadonlyMap<string, Float32Array>): { loss: number; gradNorm: number } => {
    let at = 0;
    let sq = 0;
    for (const key of keys!) {
      const g = grads.get(key)!;
      g.set(flat.subarray(at, at + g.length));
      for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
      at += g.length;
    }
    return { loss: flat[at], gradNorm: Math.sqrt(sq) };
  };

  const checkWeights = async (step: number) => {
    const params = compiled.paramStore(runtime.backend);
    let hash: string;
    try {
      hash = hashTensors(params.keys().map((key) => [key, params.get(key).dataSync()] as const));
    } finally {
      params.dispose();
    }
    const all = await group.exchange('weights', step, hash);
    const odd = all.findIndex((h) => h !== all[0]);
    if (odd > 0) {
      const message = `after step ${step} the weights differ between ranks (sha256 ${all.map((h, r) => `rank ${r} ${h.slice(0, 12)}`).join(', ')}): the ranks no longer train one model`;
      group.fail(message);
      throw new DistributedError(message);
    }
  };

  return {
    compiled,
    configHash: configHash(agreed),
    async step(batch: Batch): Promise<StepResult> {
      const t0 = performance.now();
      // Views of the trainer's gradient buffers, which `apply` reads: the sums go back into them.
      const grads = await localGradients(batch);
      const next = compiled.stepCount + 1;
      await reduce.sum(next, flat);
      const { loss, gradNorm } = reduced(grads);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
        throw new TrainingError(
          `step ${next}: the loss is ${loss} and the gradient norm ${gradNorm}; training stopped and the weights of step ${next - 1} are kept`,
        );
      const { step, lr } = await compiled.apply(undefined, gradNorm);
      if (step % checkEvery === 0) await checkWeights(step);
      // The first step traces and loads the graphs: the averages start after it.
      if (++steps === 1) first = { commSeconds: reduce.stats.seconds, bytesSent: reduce.stats.bytesSent };
      else stepSeconds += (performance.now() - t0) / 1000;
      return { step, loss, gradNorm, lr };
    },
    sync: () => compiled.syncTo(runtime.params, trainer),
    evaluate: async (data: Dataset) => {
      const params = compiled.paramStore(runtime.backend);
      try {
        return await evaluateOnnx(runtime.graph, params, data);
      } finally {
        params.dispose();
      }
    },
    stats: () => ({
      steps: Math.max(0, steps - 1),
      stepSeconds,
      commSeconds: reduce.stats.seconds - first.commSeconds,
      bytesSent: reduce.stats.bytesSent - first.bytesSent,
      floats: flat.length,
    }),
    async close() {
      reduce.close();
      await compiled.dispose();
    },
  };
}
