// `ganglion train` across processes: the flags (--workers N; --nats URL --world W --rank R;
// --timeout; --run-id), and one rank's run. A rank connects to NATS, joins the run's RankGroup
// (heartbeats, membership), then trains as a single process would, with two differences:
// dataParallelStepper runs its share of each batch and all-reduces the gradients, and only rank 0
// writes (the checkpoints, the loss curve, validation and progress); the other ranks read --out
// only to resume, prepare a corpus in a temporary folder, and print one line at the end. Any error
// on any rank stops every rank (RankGroup) with one line; a failure that reaches a rank busy
// elsewhere ends its process shortly after, so nothing outlives the timeout by much.
// `--workers N` is launcher.ts: it starts the ranks as processes of this command.
//
//   ganglion train --nats nats://10.0.0.5:4222 --world 4 --rank 2 --run-id job-17 --corpus book.txt
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Runtime, Stepper, Trainer } from '@ganglion/core';
import { type FlagSpec, UsageError, num } from '../args.js';
import type { ProgressSink } from '../progress.js';
import type { RunFolder } from '../run-folder.js';
import { type DataParallelStepper, dataParallelStepper } from './data-parallel-stepper.js';
import { connectNats } from './nats-link.js';
import { RankGroup } from './rank-group.js';

export const DISTRIBUTED_FLAGS: FlagSpec = {
  workers: { type: 'string' },
  nats: { type: 'string' },
  world: { type: 'string' },
  rank: { type: 'string' },
  timeout: { type: 'string' },
  'run-id': { type: 'string' },
};

export const DISTRIBUTED_USAGE = `[--workers N] [--nats URL --world W --rank R] [--timeout SECONDS] [--run-id NAME]`;

export const DISTRIBUTED_HELP = `Data parallel (--backend onnx): --workers N trains with N processes on this machine (a private
nats-server on 127.0.0.1, from the Debian package nats-server; onnxruntime's threads shared out
among them); --nats URL --world W --rank R makes this process rank R of W, each started by you, a
Kubernetes Indexed Job or mpirun, all with the same flags and --run-id. --batch stays the global
batch (split evenly over the ranks): the run trains what one process would. Rank 0 writes --out;
a rank silent for --timeout SECONDS (default 60; longer than a step) stops every rank.`;

const DEFAULT_TIMEOUT = 60;
const DEFAULT_RUN = 'ganglion';

export interface DistributedFlags {
  /** Worker processes to start here (launcher.ts); undefined: this process is one rank. */
  readonly workers?: number;
  /** The NATS server's URL; undefined with --workers: a private server. */
  readonly nats?: string;
  readonly world: number;
  readonly rank: number;
  readonly timeoutSeconds: number;
  /** Prefix of every subject: ranks of one run share it, runs on one server differ. */
  readonly runId?: string;
}

/** What the training needs to know besides the flags, to check them now. */
export interface DistributedContext {
  readonly backend?: string | boolean;
  readonly batch?: number;
  readonly gradAccum?: number;
  readonly timeBudget?: boolean;
  readonly logGradNorms?: boolean;
}

/**
 * The data-parallel flags, checked: undefined when none is given. Throws a UsageError naming the
 * flag for a rank outside the world, --workers with --rank, a batch that does not split, ...
 */
export function distributedFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  ctx: DistributedContext,
): DistributedFlags | undefined {
  const given = Object.keys(DISTRIBUTED_FLAGS).filter((k) => values[k] !== undefined);
  if (given.length === 0) return undefined;
  const workers =
    values.workers === undefined ? undefined : num('workers', values.workers, 1, { min: 1, integer: true });
  if (workers === undefined && values.nats === undefined)
    throw new UsageError(`--${given[0]}: data-parallel training needs --workers N, or --nats URL --world W --rank R`);
  if (workers !== undefined && (values.rank !== undefined || values.world !== undefined))
    throw new UsageError(
      `--workers ${workers} starts ranks 0 to ${workers - 1} itself; --world and --rank are for processes you start with --nats`,
    );
  if (typeof values.nats === 'boolean' || values.nats === '')
    throw new UsageError('--nats: give the URL of a NATS server, e.g. --nats nats://10.0.0.5:4222');
  if (values.nats !== undefined && !/^(nats|tls|wss?):\/\/|^[^:/]+:\d+$/.test(values.nats))
    throw new UsageError(`--nats ${values.nats}: expected a NATS URL such as nats://host:4222`);
  if (workers === undefined && (values.world === undefined || values.rank === undefined))
    throw new UsageError(`--nats: also give --world W (the number of ranks) and --rank R (this process's, 0 to W-1)`);
  const world = workers ?? num('world', values.world, 1, { min: 1, integer: true });
  const rank = workers === undefined ? num('rank', values.rank, 0, { min: 0, integer: true }) : 0;
  if (rank >= world) throw new UsageError(`--rank ${rank}: ranks run from 0 to --world - 1 = ${world - 1}`);
  const timeoutSeconds = num('timeout', values.timeout, DEFAULT_TIMEOUT, { min: 0, exclusiveMin: true });
  const runId = values['run-id'] === undefined ? undefined : String(values['run-id']);
  if (runId !== undefined && !/^[A-Za-z0-9_-]+$/.test(runId))
    throw new UsageError(`--run-id ${JSON.stringify(runId)}: use letters, digits, - and _ (it starts NATS subjects)`);
  const flag = workers !== undefined ? `--workers ${workers}` : `--world ${world}`;
  if (ctx.backend !== undefined && ctx.backend !== 'onnx')
    throw new UsageError(
      `${flag}: the ranks run the compiled gradients graph; use --backend onnx (got --backend ${String(ctx.backend)})`,
    );
  if (ctx.timeBudget)
    throw new UsageError(`${flag}: --time-budget would stop the ranks at different steps; give --steps N instead`);
  if (ctx.logGradNorms)
    throw new UsageError(`${flag}: --log-grad-norms shows one process's gradients; train without it`);
  const k = ctx.gradAccum ?? 1;
  if (ctx.batch !== undefined && ctx.batch % (world * k) !== 0)
    throw new UsageError(
      `--batch ${ctx.batch} does not split evenly over ${world} ranks${k > 1 ? ` × ${k} micro-batches` : ''}: use a multiple of ${world * k}`,
    );
  return { workers, nats: values.nats, world, rank, timeoutSeconds, runId };
}

/** One rank's part in `ganglion train` (train.ts calls it where a single process would differ). */
export interface RankContext {
  readonly rank: number;
  readonly world: number;
  /** Ranks > 0 prepare a corpus here instead of in --out. */
  readonly dataDir?: string;
  /** Ranks > 0: --out, read only (to resume), neither locked nor written; rank 0: undefined (open it as usual). */
  follower(out: string, resume: boolean): RunFolder | undefined;
  /** Agree with the other ranks on what is trained, and the stepper that trains this rank's share. */
  stepper(
    runtime: Runtime,
    trainer: Trainer,
    settings: Readonly<Record<string, string | number | boolean | undefined>>,
    gradAccum?: number,
  ): Promise<Stepper>;
  /** The closing line: rank 0's communication summary, or a rank's word that rank 0 saved. */
  summary(): string;
}

/**
 * The launcher's private nats-server (`pid:run`), when the launcher died without stopping it: a
 * worker that notices stops it, if that pid is still the server named after the run.
 */
function stopOrphanedServer(server: string | undefined): void {
  const [pid, run] = (server ?? '').split(':');
  try {
    if (pid && run && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(run))
      process.kill(Number(pid), 'SIGTERM');
  } catch {
    // Gone already, or not ours to stop.
  }
}

/** A sink that shows nothing: ranks > 0 leave the terminal to rank 0. */
export const QUIET_SINK: ProgressSink = {
  event: () => undefined,
  note: () => undefined,
  gradNorms: () => undefined,
  charactersPerToken: () => undefined,
  close: () => undefined,
};

const formatBytes = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${Math.round(n)} B`;

/**
 * Run `train` as rank `flags.rank` of a run on the NATS server at `flags.nats`; `command` names the
 * CLI command in the line a late failure prints.
 */
export async function runAsRank<T>(
  flags: DistributedFlags,
  command: string,
  train: (ctx: RankContext) => Promise<T>,
): Promise<T> {
  const { rank, world, timeoutSeconds } = flags;
  const url = flags.nats!;
  const run = flags.runId ?? DEFAULT_RUN;
  process.title = `ganglion-worker rank ${rank}`;
  const link = await connectNats(url, {
    name: `${run} rank ${rank}`,
    timeoutMs: Math.min(5000, timeoutSeconds * 1000),
  });
  let settled = false;
  let group: RankGroup | undefined;
  let stepper: DataParallelStepper | undefined;
  let dataDir: string | undefined;
  try {
    group = await RankGroup.join(link, { run, rank, world, timeoutSeconds, where: `NATS at ${url}` });
    const g = group;
    // A failure that finds this rank busy outside the group's waits (validation, a checkpoint)
    // still ends the process soon, with the one line.
    g.onFailure((e) => {
      setTimeout(() => {
        if (settled) return;
        process.stderr.write(`ganglion ${command}: ${e.name}: ${e.message}\n`);
        process.exit(1);
      }, 2000).unref();
    });
    // Started by `--workers`: the launcher's end (even by SIGKILL) closes this channel.
    if (process.send && process.env.GANGLION_WORKER_OF) {
      process.on('disconnect', () => {
        stopOrphanedServer(process.env.GANGLION_PRIVATE_NATS);
        g.fail(`the launcher (pid ${process.env.GANGLION_WORKER_OF}) is gone`);
      });
      process.channel?.unref();
    }
    // Named after the run, so the launcher can remove what a killed worker left behind.
    if (rank > 0) dataDir = await mkdtemp(join(tmpdir(), `ganglion-${run}-rank-${rank}-`));
    const threads = Number(process.env.GANGLION_WORKER_THREADS) || availableParallelism();
    const ctx: RankContext = {
      rank,
      world,
      dataDir,
      follower: (out, resume) =>
        rank === 0
          ? undefined
          : {
              path: resolve(out),
              resume,
              created: false,
              lock: { path: resolve(out), release: async () => undefined },
            },
      stepper: async (runtime, trainer, settings, gradAccum) =>
        (stepper = await dataParallelStepper(runtime, trainer, { group: g, link, settings, gradAccum, threads })),
      summary: () => {
        if (rank > 0) return `rank ${rank} of ${world}: done; rank 0 saved the checkpoint`;
        const s = stepper?.stats();
        if (!s || s.steps === 0) return `data parallel: ${world} ranks on NATS at ${url}`;
        const comm = s.commSeconds / s.steps;
        const step = s.stepSeconds / s.steps;
        return (
          `data parallel: ${world} ranks on NATS at ${url}, config hash ${stepper!.configHash}; a step all-reduces ` +
          `${s.floats.toLocaleString('en-US')} floats in ${(comm * 1000).toFixed(1)} ms (${((comm / step) * 100).toFixed(0)}% of ` +
          `${(step * 1000).toFixed(1)} ms) and sends ${formatBytes(s.bytesSent / s.steps)} from rank 0`
        );
      },
    };
    return await train(ctx);
  } catch (e) {
    settled = true;
    // Whatever still holds the event loop (a late answer from the server) must not keep a failed rank alive.
    setTimeout(() => process.exit(process.exitCode || 1), 3000).unref();
    // The run failed first (a rank, the server): that is the one line, not what it broke here.
    if (group?.failed) throw group.failed;
    if (group) {
      const err = e as Error;
      group.fail(`${err?.name ?? 'Error'}: ${String(err?.message ?? e)}`.split('\n')[0], false);
    }
    throw e;
  } finally {
    settled = true;
    await stepper?.close();
    await group?.leave();
    await link.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
