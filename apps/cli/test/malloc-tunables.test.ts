// The training commands run in a child process with glibc's malloc tunables (src/malloc-tunables.ts):
// read from the child's own environment in /proc, the process tree seen with /proc's children
// lists. Signals to the `ganglion` process reach the command, and no process is left behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MALLOC_TUNABLES, onGlibc, wantsTunables } from '../src/malloc-tunables.js';
import { BIN, TINY_TRAIN, folderWithCorpus } from './run-cli.js';

let dir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-malloc-');
});
afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const environOf = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const until = async (what: () => boolean, ms: number) => {
  for (const end = performance.now() + ms; performance.now() < end && !what();)
    await new Promise((r) => setTimeout(r, 50));
  return what();
};

/** A `ganglion train` that runs for up to a minute, printing JSON lines; resolves once a batch line is out. */
async function longTraining(out: string, env: Record<string, string> = {}) {
  const args = [BIN, 'train', ...TINY_TRAIN, '--steps', '100000', '--time-budget', '60', '--json', '--out', out];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIBC_TUNABLES: '', ...env },
  });
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  expect(await until(() => stdout.includes('"event":"batch"') || child.exitCode !== null, 60_000)).toBe(true);
  expect(child.exitCode, stderr).toBeNull();
  return { child, exited };
}

describe.runIf(process.platform === 'linux' && onGlibc())('the training commands get glibc malloc tunables', () => {
  test('train runs in one child that has them; SIGTERM to ganglion ends both, by that signal', async () => {
    const { child, exited } = await longTraining('sigterm');
    const [worker, ...more] = childrenOf(child.pid!);
    expect(more).toEqual([]);
    // /proc shows the environment as the process started, and glibc ends that copy at the first ':'
    // while it reads the tunables (the bench test reads the whole value from the process itself).
    expect(environOf(worker!).GLIBC_TUNABLES).toBe(MALLOC_TUNABLES.split(':')[0]);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(alive(worker!)).toBe(false);
  }, 90_000);

  test('SIGKILL to ganglion: the training child ends too', async () => {
    const { child, exited } = await longTraining('sigkill');
    const [worker] = childrenOf(child.pid!);
    expect(alive(worker!)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(await until(() => !alive(worker!), 15_000)).toBe(true);
  }, 90_000);

  test("a user's own glibc.malloc tunable is kept, and the command runs in the one process", async () => {
    const { child, exited } = await longTraining('own', { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
    expect(childrenOf(child.pid!)).toEqual([]);
    expect(environOf(child.pid!).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2');
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
  }, 90_000);

  test('other tunables are kept alongside; only the training commands, and not when MALLOC_*_ is set', () => {
    expect(wantsTunables(['train'], { GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX512F' })).toBe(true);
    for (const c of ['demo', 'finetune', 'bench']) expect(wantsTunables([c], {})).toBe(true);
    for (const c of ['generate', 'run', 'export', 'inspect', '--help']) expect(wantsTunables([c], {})).toBe(false);
    expect(wantsTunables(['train'], { MALLOC_TRIM_THRESHOLD_: '0' })).toBe(false);
    expect(
      wantsTunables(['train'], { GLIBC_TUNABLES: 'glibc.cpu.x86_rep_movsb_threshold=1:glibc.malloc.tcache_count=0' }),
    ).toBe(false);
  });
});
