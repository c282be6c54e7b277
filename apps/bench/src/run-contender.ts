// Runs one contender in its own process and turns what it reports into a ContenderResult: median
// times, tokens per second, the time to the end of the first step and the process's peak resident
// set. Node contenders run in a forked child (child.ts); external ones (PyTorch) under
// `/usr/bin/time -v` when it exists.
import { type ChildProcess, type SpawnOptions, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ChildMessage } from './child.js';
import { BenchError, type Contender, type Framework, type ProcessContender, type ProcessOutput } from './contender.js';
import { type StepCounts, type Workload, tokensPerStep } from './workload.js';

export interface ContenderResult {
  readonly name: string;
  readonly framework: Framework;
  readonly backend: string;
  readonly description: string;
  readonly status: 'ok' | 'unavailable' | 'failed';
  /** Why it did not run, or how it failed. */
  readonly reason: string | null;
  /** Warm-up and measured step counts it was timed with. */
  readonly steps: StepCounts | null;
  /** Median time of a measured training step, in ms (null: the contender does not train). */
  readonly trainStepMs: number | null;
  /**
   * Median CPU time of the process (user + system, all its threads) in a training step, in ms. It
   * swings less than wall time when other programs share the machine; a contender using two
   * threads spends up to twice its wall time.
   */
  readonly trainStepCpuMs: number | null;
  readonly trainTokensPerSecond: number | null;
  /**
   * Seconds from starting the contender's process to the end of its first training step: loading
   * its framework, building the model, tracing and compiling (where it does), and the step.
   */
  readonly firstStepSeconds: number | null;
  /** Median time of a forward pass over one batch, in ms. */
  readonly forwardMs: number | null;
  readonly forwardCpuMs: number | null;
  readonly forwardTokensPerSecond: number | null;
  /** Peak resident set of the contender's whole process, in MiB. */
  readonly peakRssMiB: number | null;
  readonly trainStepSamplesMs: readonly number[];
  readonly forwardSamplesMs: readonly number[];
  /** Wall time of the whole child process, setup included. */
  readonly wallSeconds: number | null;
  /**
   * The machine's 1-minute load average when the contender finished. Its own process accounts for
   * about 1 (JS) or its thread count; more means other programs competed for the cores.
   */
  readonly loadAverage: number | null;
  /** The BLAS the contender's process reports it loaded (PyTorch), or null. */
  readonly blas: string | null;
  /** The number of trainable values in its model, as its process counted them. */
  readonly paramCount: number | null;
  readonly notes: readonly string[];
}

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const TIME = '/usr/bin/time';

export async function runContender(c: Contender, w: Workload, opts: { timeoutMs: number }): Promise<ContenderResult> {
  const base = { name: c.name, framework: c.framework, backend: c.backend, description: c.description };
  const empty = {
    steps: null,
    trainStepMs: null,
    trainStepCpuMs: null,
    trainTokensPerSecond: null,
    firstStepSeconds: null,
    forwardMs: null,
    forwardCpuMs: null,
    forwardTokensPerSecond: null,
    peakRssMiB: null,
    trainStepSamplesMs: [],
    forwardSamplesMs: [],
    wallSeconds: null,
    loadAverage: null,
    blas: null,
    paramCount: null,
    notes: [],
  };
  if (!(c.workloads ?? ['char-lstm']).includes(w.kind))
    return { ...base, ...empty, status: 'unavailable', reason: `${(c.workloads ?? ['char-lstm']).join(', ')} only` };
  if (c.quickOnly && w.name !== 'quick')
    return { ...base, ...empty, status: 'unavailable', reason: 'too slow for the full workload; runs with --quick' };
  const available = await c.available(w).catch((e: unknown) => String((e as Error)?.message ?? e));
  if (available !== true)
    return {
      ...base,
      ...empty,
      status: 'unavailable',
      reason: typeof available === 'string' ? available : 'not available on this machine',
    };
  const counts = w.steps[c.pace];
  const t0 = performance.now();
  const started = Date.now();
  try {
    const output =
      c.kind === 'node'
        ? await runNodeChild(c.name, w, opts.timeoutMs)
        : await runProcess(c, w, counts, opts.timeoutMs);
    const trainStepMs = median(output.trainStepSamplesMs);
    const forwardMs = median(output.forwardSamplesMs);
    const tokens = tokensPerStep(w);
    return {
      ...base,
      status: 'ok',
      reason: null,
      steps: counts,
      trainStepMs,
      trainStepCpuMs: median(output.trainStepCpuSamplesMs),
      trainTokensPerSecond: trainStepMs === null ? null : (tokens * 1000) / trainStepMs,
      firstStepSeconds: output.firstStepEndMs === undefined ? null : (output.firstStepEndMs - started) / 1000,
      forwardMs,
      forwardCpuMs: median(output.forwardCpuSamplesMs),
      forwardTokensPerSecond: forwardMs === null ? null : (tokens * 1000) / forwardMs,
      peakRssMiB: output.maxRssKiB === undefined ? null : output.maxRssKiB / 1024,
      trainStepSamplesMs: output.trainStepSamplesMs ?? [],
      forwardSamplesMs: output.forwardSamplesMs ?? [],
      wallSeconds: (performance.now() - t0) / 1000,
      loadAverage: loadavg()[0],
      blas: output.blas ?? null,
      paramCount: output.paramCount ?? null,
      notes: output.notes ?? [],
    };
  } catch (e) {
    return {
      ...base,
      ...empty,
      status: 'failed',
      reason: (e as Error).message,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  }
}

function runNodeChild(name: string, w: Workload, timeoutMs: number): Promise<ProcessOutput> {
  // --expose-gc: a contender may collect what it built its model from before it is timed.
  const child = fork(CHILD, [name, w.name], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  let message: ChildMessage | undefined;
  child.on('message', (m) => (message = m as ChildMessage));
  return supervise(child, timeoutMs, (stderr) => {
    if (!message) throw new BenchError(`the child process ended without a result${lastLines(stderr)}`);
    if (!message.ok) throw new BenchError(message.error);
    return message.output;
  });
}

function runProcess(c: ProcessContender, w: Workload, counts: StepCounts, timeoutMs: number): Promise<ProcessOutput> {
  const { file, args, env } = c.command(w, counts);
  // GNU time reports the peak RSS of the program it runs, the same figure node's resourceUsage() gives.
  const timed = existsSync(TIME);
  const options: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env };
  const child = timed ? spawn(TIME, ['-v', file, ...args], options) : spawn(file, args, options);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  return supervise(child, timeoutMs, (stderr, code) => {
    if (code !== 0) throw new BenchError(`${file} exited with status ${code}${lastLines(stderr)}`);
    const line = stdout.trim().split('\n').at(-1) ?? '';
    let output: ProcessOutput;
    try {
      output = JSON.parse(line) as ProcessOutput;
    } catch {
      throw new BenchError(`${file} printed no JSON result (last line: ${JSON.stringify(line.slice(0, 200))})`);
    }
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
    return rss ? { ...output, maxRssKiB: Number(rss[1]) } : output;
  });
}

/** Wait for a child to exit (killing it after timeoutMs), then read its result with `finish`. */
export function supervise<T = ProcessOutput>(
  child: ChildProcess,
  timeoutMs: number,
  finish: (stderr: string, code: number | null) => T,
): Promise<T> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.resume();
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new BenchError(`killed after ${Math.round(timeoutMs / 1000)} s`));
      try {
        resolve(finish(stderr, code));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The median of some samples (the mean of the middle two for an even count), or null for none. */
function median(xs: readonly number[] | undefined): number | null {
  if (!xs?.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function lastLines(text: string, n = 5): string {
  const lines = text.trim().split('\n').filter(Boolean).slice(-n);
  return lines.length ? `:\n  ${lines.join('\n  ')}` : '';
}
