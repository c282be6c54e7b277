// `ganglion train --workers N`: start N ranks of this same command as child processes on this
// machine, and a private nats-server for them unless --nats names one (nats-server.ts: bound to
// 127.0.0.1 on a port the system picks, stopped at the end). Each worker is this command with
// `--nats URL --world N --rank R --run-id RUN` in place of `--workers N`, titled
// `ganglion-worker rank R` (data-parallel.ts), with onnxruntime's threads shared out among them.
// Rank 0's standard output is this command's (progress, events); the workers' errors are read,
// and a failed run ends with one line: the first failed rank's own line (they all name the rank or
// the server at fault), or the signal that killed a rank that could not say anything. The workers
// hold an IPC channel to this process: if it dies, even by SIGKILL, they notice, stop the private
// server and themselves. A worker still running 5 s after another failed with an error (`timeout`
// + 5 s after one was killed) is stuck, and killed.
//
//   await launchWorkers('train', argv, flags);   // resolves when every rank exited 0
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GanglionError } from '@ganglion/core';
import { UsageError } from '../args.js';
import type { DistributedFlags } from './data-parallel.js';
import { type NatsServer, startNatsServer } from './nats-server.js';

const BIN = fileURLToPath(new URL('../../bin/ganglion.js', import.meta.url));

/** A worker's failure, carried up as the error the worker reported (its name and message). */
class WorkerFailure extends GanglionError {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Exit {
  readonly rank: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** `argv` without `--workers N` / `--workers=N`. */
function withoutWorkersFlag(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--workers') i++;
    else if (!argv[i].startsWith('--workers=')) out.push(argv[i]);
  }
  return out;
}

/** Start the workers, wait for all of them, and stop the private server; throws the failed run's one line. */
export async function launchWorkers(command: string, argv: readonly string[], flags: DistributedFlags): Promise<void> {
  const n = flags.workers!;
  const run = flags.runId ?? `ganglion-${randomBytes(4).toString('hex')}`;
  const server: NatsServer | undefined = flags.nats ? undefined : await startNatsServer(run);
  const url = flags.nats ?? server!.url;
  const threads = Math.max(1, Math.floor(availableParallelism() / n));
  const base = withoutWorkersFlag(argv);
  const children: ChildProcess[] = [];
  const exits: Exit[] = [];
  let deadline: NodeJS.Timeout | undefined;
  let deadlineAt = Infinity;
  const stopAll = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const stopAllBy = (at: number) => {
    if (at >= deadlineAt) return;
    if (deadline) clearTimeout(deadline);
    deadlineAt = at;
    deadline = setTimeout(() => stopAll('SIGKILL'), at - performance.now());
    deadline.unref();
  };
  const killAtExit = () => stopAll('SIGKILL');
  process.once('exit', killAtExit);
  const interrupted = (signal: NodeJS.Signals) => () => stopAll(signal);
  const onInt = interrupted('SIGINT');
  const onTerm = interrupted('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    const done = Array.from({ length: n }, (_, rank) => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          command,
          ...base,
          ...(flags.nats ? [] : ['--nats', url]),
          ...['--world', String(n), '--rank', String(rank)],
          ...(flags.runId ? [] : ['--run-id', run]),
        ],
        {
          stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe', 'ipc'],
          env: {
            ...process.env,
            GANGLION_WORKER_OF: String(process.pid),
            GANGLION_WORKER_THREADS: String(threads),
            // Should this process die without stopping it, the workers stop the private server.
            ...(server ? { GANGLION_PRIVATE_NATS: `${server.pid}:${run}` } : {}),
          },
        },
      );
      children.push(child);
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (s: string) => {
        stderr = (stderr + s).slice(-64_000);
        if (process.env.GANGLION_DEBUG === '1') process.stderr.write(s);
      });
      return new Promise<void>((resolve) =>
        child.once('close', (code, signal) => {
          exits.push({ rank, pid: child.pid ?? 0, code, signal, stderr });
          // A rank that failed has told the others (they stop within seconds); a killed one has
          // not, and the others need the timeout to notice. Whoever is left after that is stuck.
          if (code !== 0 || signal) stopAllBy(performance.now() + (signal ? flags.timeoutSeconds + 5 : 5) * 1000);
          resolve();
        }),
      );
    });
    await Promise.all(done);
  } finally {
    if (deadline) clearTimeout(deadline);
    process.off('exit', killAtExit);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await server?.stop();
    // A worker killed before its own cleanup leaves its data folder (data-parallel.ts names it after the run).
    for (const name of await readdir(tmpdir()).catch(() => []))
      if (name.startsWith(`ganglion-${run}-rank-`)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
  const failed = exits.filter((e) => e.code !== 0 || e.signal).sort((a, b) => a.rank - b.rank);
  if (failed.length === 0) return;
  const said = failed.find((e) => lastLine(e.stderr));
  if (said) throw asError(lastLine(said.stderr), said.code);
  const first = failed[0];
  throw new WorkerFailure(
    'DistributedError',
    first.signal
      ? `rank ${first.rank} (pid ${first.pid}) was killed by ${first.signal}`
      : `rank ${first.rank} (pid ${first.pid}) exited with code ${first.code}`,
  );
}

/** The last line a worker wrote that is not a stack frame. */
function lastLine(stderr: string): string {
  return (
    stderr
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l && !/^\s+at /.test(l))
      .pop() ?? ''
  );
}

/** A worker's one line (`ganglion train: Name: message`) as the error this command throws, so it prints the same line. */
function asError(line: string, code: number | null): Error {
  const rest = line.replace(/^ganglion [\w-]+: /, '');
  const named = /^([A-Z]\w*Error): (.*)$/.exec(rest);
  if (named) return new WorkerFailure(named[1], named[2]);
  const unexpected = /^unexpected error: (.*?)( \(GANGLION_DEBUG=1 shows where\))?$/.exec(rest);
  if (unexpected) return new Error(unexpected[1]);
  return code === 2 ? new UsageError(rest) : new WorkerFailure('DistributedError', rest);
}
