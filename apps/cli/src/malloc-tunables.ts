// glibc's malloc for the training commands. onnxruntime allocates every intermediate tensor of a
// compiled step afresh; with glibc's defaults a large block freed at the top of the heap goes back
// to the kernel and the next one comes back as new pages to fault in, so a GPT step spent about
// half its time in page faults (docs/benchmarks.md, "glibc's malloc"). Two tunables keep the freed
// memory for reuse: blocks up to 32 MiB (glibc's most) from the heap rather than mmap, and no
// trimming. Peak memory is the same; the memory is kept until the process ends.
//
// glibc reads its tunables when a process starts, so bin/ganglion.js starts the command again in a
// child process that has them (`startTuned`), and that child ends with its parent (`endWithParent`).
// A GLIBC_TUNABLES of the user's own with any glibc.malloc entry (or MALLOC_MMAP_THRESHOLD_ /
// MALLOC_TRIM_THRESHOLD_) is left alone, and the command runs in one process.
import { type ChildProcess, spawn } from 'node:child_process';

export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184';

/** The commands that train (and so run compiled steps for long). */
const TRAINING_COMMANDS = new Set(['demo', 'train', 'finetune', 'bench']);

/** Set in the child only (and removed there at once, so its own children do not inherit it). */
const PARENT_VAR = 'GANGLION_TUNED_CHILD_OF';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether `ganglion <argv>` should run in a child with MALLOC_TUNABLES: a training command, on glibc, not tuned already. */
export function wantsTunables(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux' || !TRAINING_COMMANDS.has(argv[0] ?? '')) return false;
  if (/(^|:)glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? '')) return false;
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined || env.MALLOC_TRIM_THRESHOLD_ !== undefined) return false;
  return onGlibc();
}

/** Whether this Node runs on glibc (not musl, macOS or Windows). */
export function onGlibc(): boolean {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return Boolean(header?.glibcVersionRuntime);
}

/**
 * @public (bin/ganglion.js calls it, from dist/)
 *
 * Run this same command (node, its flags, the script and `argv`) in a child with MALLOC_TUNABLES
 * added to GLIBC_TUNABLES, its standard streams this process's. Signals sent to this process go on
 * to it; this process then ends as the child did (its exit code, or killed by the same signal).
 */
export function startTuned(script: string, argv: readonly string[]): ChildProcess {
  const tunables = [process.env.GLIBC_TUNABLES, MALLOC_TUNABLES].filter(Boolean).join(':');
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, GLIBC_TUNABLES: tunables, [PARENT_VAR]: String(process.pid) },
  });
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of SIGNALS) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`ganglion: could not start ${process.execPath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of SIGNALS) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
  return child;
}

/**
 * In the child `startTuned` made: should the parent die without passing a signal on (SIGKILL),
 * end at once too, as the one process would have. Elsewhere a no-op.
 */
export function endWithParent(): void {
  const parent = process.env[PARENT_VAR];
  if (parent === undefined) return;
  delete process.env[PARENT_VAR];
  if (!process.send) return;
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  process.channel?.unref();
}
