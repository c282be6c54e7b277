// Timing a compiled training step, for `ganglion bench` and scripts: build the CompiledTrainer for
// a graph, trace and load it outside the timed region, then time steps on one fixed batch.
//
//   const r = await benchCompiledTraining({ graph, setup: { optimizer, clipping, schedule, lr: 1e-3 }, feeds: { ids, labels } });
//   console.log(r.medianMs, r.tokensPerSecond);
import { type Graph, ParamStore, deriveSeed, initialValues } from '@ganglion/core';
import { type FeedValue, feedSpec } from '../ort-tensors.js';
import {
  type CompileOptions,
  type CompiledStepResult,
  CompiledTrainer,
  type TrainingSetup,
} from './compiled-trainer.js';
import type { RewriteStats } from './gradient-sums.js';

export interface CompiledBenchOptions {
  readonly graph: Graph;
  /** Initial weights (default: the graph's initializers with `seed`, straight into float32 arrays). */
  readonly params?: ParamStore;
  readonly seed?: number;
  readonly setup: TrainingSetup;
  /** The batch every step trains on. */
  readonly feeds: Readonly<Record<string, FeedValue>>;
  /** Steps run before timing (default 3; the first one or two also build the sessions). */
  readonly warmup?: number;
  /** Timed steps (default 10). */
  readonly measured?: number;
  /** Tokens a step trains on, for tokens/s (default: the size of the first feed). */
  readonly tokensPerStep?: number;
  readonly compile?: CompileOptions;
}

export interface CompiledBenchResult {
  /** Tracing and loading the sessions: the first step's (no optimizer slots yet) and the steady-state one. */
  readonly prepareMs: number;
  /** Untimed steps (the first runs the first step's graph). */
  readonly warmupMs: readonly number[];
  readonly stepMs: readonly number[];
  readonly medianMs: number;
  /**
   * Median CPU time of this process per timed step (user + system, all threads). On a busy
   * machine wall time swings with the load; this says how much work a step is. NaN in a browser.
   */
  readonly cpuMs: number;
  readonly tokensPerSecond: number;
  readonly losses: readonly number[];
  /** Of the steady-state graph: its node count and what the gradient-sum rewrite did. */
  readonly nodeCount: number;
  readonly rewrites: RewriteStats;
}

/** A ready compiled trainer on a fixed batch: what a benchmark contender times. */
export interface CompiledTrainingSession {
  readonly trainer: CompiledTrainer;
  trainStep(): Promise<CompiledStepResult>;
}

/** Node's process CPU time; browsers have none (the benchmark then reports NaN for it). */
const nodeProcess = (globalThis as { process?: { cpuUsage?: typeof process.cpuUsage } }).process;
const cpuUsage = nodeProcess?.cpuUsage?.bind(nodeProcess);

/**
 * A CompiledTrainer on a fixed batch with its sessions traced and loaded. The first `trainStep()`
 * runs the first step's graph (no optimizer slots yet), every later one the steady-state graph.
 */
export async function compiledTrainingSession(
  o: Omit<CompiledBenchOptions, 'warmup' | 'measured' | 'tokensPerStep'>,
): Promise<CompiledTrainingSession> {
  const trainer = new CompiledTrainer(o.graph, o.params ?? initialWeights(o.graph, o.seed ?? 0), o.setup, o.compile);
  await trainer.prepare(o.feeds);
  return { trainer, trainStep: () => trainer.step(o.feeds) };
}

export async function benchCompiledTraining(o: CompiledBenchOptions): Promise<CompiledBenchResult> {
  const t0 = performance.now();
  const session = await compiledTrainingSession(o);
  const losses: number[] = [];
  const warmupMs: number[] = [];
  const prepareMs = performance.now() - t0;
  for (let i = 0; i < (o.warmup ?? 3); i++) {
    const t = performance.now();
    losses.push((await session.trainStep()).loss);
    warmupMs.push(performance.now() - t);
  }
  const model = await session.trainer.prepare(o.feeds);
  const stepMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < (o.measured ?? 10); i++) {
    const t = performance.now();
    const c = cpuUsage?.();
    losses.push((await session.trainStep()).loss);
    stepMs.push(performance.now() - t);
    const used = c && cpuUsage?.(c);
    if (used) cpuMs.push((used.user + used.system) / 1000);
  }
  await session.trainer.dispose();
  const medianMs = median(stepMs);
  const tokens = o.tokensPerStep ?? feedSpec(Object.values(o.feeds)[0]).shape.reduce((a, b) => a * b, 1);
  return {
    prepareMs,
    warmupMs,
    stepMs,
    medianMs,
    cpuMs: cpuMs.length > 0 ? median(cpuMs) : NaN,
    tokensPerSecond: (tokens * 1000) / medianMs,
    losses,
    nodeCount: model.nodeCount,
    rewrites: model.rewrites,
  };
}

/**
 * The graph's initial weights as float32 arrays, one parameter at a time: no eager copy of the
 * model (a float64 ParamStore on the reference backend would hold twice the weights' size) stays
 * alive next to the compiled trainer's.
 */
function initialWeights(graph: Graph, seed: number): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const [key, { spec }] of new ParamStore(graph).specs)
    weights.set(key, Float32Array.from(initialValues(spec.init, spec.shape, deriveSeed(seed, key))));
  return weights;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
