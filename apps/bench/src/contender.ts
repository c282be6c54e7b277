// What a benchmark contender is: a name, the workloads it runs, whether it can run here, and either
// the two timed operations (train step, forward) built inside a node child process, or an external
// program that times them itself and prints the samples (PyTorch). Each contender runs in its own
// process so its peak resident set is its own.
import type { Pace, StepCounts, Workload, WorkloadKind } from './workload.js';

export type Framework = 'ganglion' | 'tfjs-layers' | 'pytorch' | 'onnxruntime';

/**
 * A contender that could not be measured: a missing package, a child that crashed or timed out.
 * The bench reports it as that contender's `reason` and goes on with the others. (Not a
 * GanglionError: importing core would load it into every contender's process.)
 */
export class BenchError extends Error {
  override readonly name = 'BenchError';
}

export interface ContenderInfo {
  /** Unique, used by --only: `ganglion-tfjs`, `tfjs-layers-cpu`, `pytorch`, ... */
  readonly name: string;
  readonly framework: Framework;
  /** Where the arithmetic runs, in words: `tfjs cpu`, `tfjs wasm`, `onnxruntime, 2 threads`. */
  readonly backend: string;
  readonly description: string;
  /** Decides how many steps it is timed over (see Workload.steps). */
  readonly pace: Pace;
  /** Too slow for the full workload; runs only with --quick. */
  readonly quickOnly?: boolean;
  /** The kinds of workload it has a model for (default: char-lstm only). */
  readonly workloads?: readonly WorkloadKind[];
  /**
   * Whether it can run on this machine: `true`, or `false` / a string saying why not (a missing
   * package, no PyTorch). Runs in the parent process, so keep it cheap.
   */
  available(w: Workload): Promise<boolean | string>;
}

/** The timed operations of a contender, ready to run. Each call is synchronous with its result. */
export interface Session {
  /** One training step on the fixed batch (the loss read back). Absent: a forward-only contender. */
  trainStep?(): unknown;
  /** One forward pass over the batch (the logits read back). */
  forward?(): unknown;
  /** Facts worth printing next to the numbers (a substituted layer, a missing gradient clip). */
  readonly notes?: readonly string[];
  /** The number of trainable values in its model, when it trains one. */
  readonly paramCount?: number;
}

/**
 * A contender that runs in a `node` child process. `prepare` builds the model and the batch; it
 * should import its framework lazily (inside `prepare`) so each child loads only what it uses.
 *
 *   const mine: NodeContender = {
 *     kind: 'node', name: 'ganglion-onnx', framework: 'ganglion', backend: 'onnxruntime', pace: 'fast',
 *     description: 'compiled training step on onnxruntime',
 *     available: async () => true,
 *     prepare: async (w) => { const step = await compile(w); return { trainStep: () => step.run(), forward: () => step.forward() }; },
 *   };
 */
export interface NodeContender extends ContenderInfo {
  readonly kind: 'node';
  prepare(w: Workload): Promise<Session>;
}

/**
 * A contender that is an external program printing one JSON line of `ProcessOutput`. `env` is the
 * program's whole environment (default: this process's), so a contender can drop variables that
 * would slow its framework down.
 */
export interface ProcessContender extends ContenderInfo {
  readonly kind: 'process';
  command(
    w: Workload,
    counts: StepCounts,
  ): { readonly file: string; readonly args: readonly string[]; readonly env?: NodeJS.ProcessEnv };
}

export type Contender = NodeContender | ProcessContender;

/**
 * What a contender's process reports: per-call wall-time samples in milliseconds, the CPU time
 * (user + system, all threads) the process spent in each, and its own peak RSS.
 */
export interface ProcessOutput {
  readonly trainStepSamplesMs?: readonly number[];
  readonly forwardSamplesMs?: readonly number[];
  readonly trainStepCpuSamplesMs?: readonly number[];
  readonly forwardCpuSamplesMs?: readonly number[];
  readonly maxRssKiB?: number;
  /**
   * When the first training step ended, in ms since the epoch (Date.now()); the parent subtracts
   * the time it started the process. Absent for a forward-only contender.
   */
  readonly firstStepEndMs?: number;
  readonly paramCount?: number;
  /** The BLAS library the process actually loaded, in words: `OpenBLAS 0.3.21, Zen kernels`. */
  readonly blas?: string;
  readonly notes?: readonly string[];
}

/**
 * Time a session: warm-up calls, then measured calls one by one. Notes when the first training
 * call ended (for the first-step time), whether it was a warm-up call or a measured one.
 */
export async function measureSession(session: Session, counts: StepCounts): Promise<ProcessOutput> {
  let firstEnd: number | undefined;
  const samples = async (fn: () => unknown, warmup: number, measured: number) => {
    for (let i = 0; i < warmup; i++) {
      await fn();
      firstEnd ??= Date.now();
    }
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < measured; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      wall.push(performance.now() - t0);
      firstEnd ??= Date.now();
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    return { wall, cpu };
  };
  const trainStep = session.trainStep?.bind(session);
  const forward = session.forward?.bind(session);
  const train = trainStep ? await samples(trainStep, counts.warmup, counts.measured) : undefined;
  const firstStepEndMs = firstEnd;
  const fwd =
    forward && counts.forwardWarmup + counts.forwardMeasured > 0
      ? await samples(forward, counts.forwardWarmup, counts.forwardMeasured)
      : undefined;
  return {
    trainStepSamplesMs: train?.wall,
    trainStepCpuSamplesMs: train?.cpu,
    forwardSamplesMs: fwd?.wall,
    forwardCpuSamplesMs: fwd?.cpu,
    firstStepEndMs,
    paramCount: session.paramCount,
    notes: session.notes,
  };
}
