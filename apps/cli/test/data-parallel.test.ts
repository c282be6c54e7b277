// Data-parallel training through the built binary, as a user runs it: `ganglion train --workers 2`
// (a private nats-server on 127.0.0.1 and two worker processes) trains what one process trains
// (losses, validation loss, weights and Adam state within 1e-5 after 20 steps, with global-norm
// clipping active), resumes a single-process checkpoint on two ranks, and stops with one line
// when a worker or the server is killed with SIGKILL, leaving a checkpoint that loads; wrong ranks,
// two processes with one rank, ranks with different settings, a server that does not answer and a
// missing nats-server binary are one line each. No process outlives the tests: every worker (found
// by the launcher pid in its environment) and every server (named by the run id) is gone at the end.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors } from '@ganglion/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { trainSettings } from '../src/commands/train.js';
import { startNatsServer } from '../src/distributed/nats-server.js';
import { MALLOC_TUNABLES } from '../src/malloc-tunables.js';
import { BIN, type CliResult, expectOneLineError, folderWithCorpus } from './run-cli.js';

let dir: string;
const RUN = `dptest${process.pid}`;
let runs = 0;
const launchers: number[] = [];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-dp-');
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 500));
  const left = [...workersOf(launchers), ...pgrep(['-f', RUN])];
  for (const pid of left) process.kill(pid, 'SIGKILL'); // a failed test's leftovers: none must stay
  await rm(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
  // Nor the data folders of ranks > 0, killed ones' included.
  expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`ganglion-${RUN}`))).toEqual([]);
});

/** A tiny char-LSTM, Adam (the preset's), global-norm clipping at 0.2 (below every step's norm here). */
const TINY = [
  ...['--preset', 'char-lstm-small', '--embed', '8', '--units', '16', '--corpus', 'corpus.txt'],
  ...['--batch', '4', '--seq-len', '8', '--seed', '1', '--lr', '0.01', '--clip', 'global-norm:0.2', '--json'],
];

interface Running {
  readonly child: ChildProcess;
  /** Resolves once stdout has a line matching `re`. */
  waitFor(re: RegExp): Promise<string>;
  readonly done: Promise<CliResult & { readonly at: number }>;
}

/** `ganglion ...args` in the test folder (with --workers, its own run id: its server's name); killed after 120 s. */
function start(args: readonly string[], env: Record<string, string> = {}): Running {
  const run = args.includes('--workers') && !args.includes('--run-id') ? ['--run-id', `${RUN}r${++runs}`] : [];
  const child = spawn(process.execPath, [BIN, ...args, ...run], {
    cwd: dir,
    // Tuned already, so the launcher is this very process (no child: src/malloc-tunables.ts).
    env: { ...process.env, FORCE_COLOR: '0', GANGLION_DEBUG: '', GLIBC_TUNABLES: MALLOC_TUNABLES, ...env },
  });
  launchers.push(child.pid!);
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const limit = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<CliResult & { at: number }>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code: code ?? (signal ? 137 : 1), stdout, stderr, at: performance.now() });
    }),
  );
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const m = stdout.split('\n').find((l) => re.test(l));
        if (m) resolve(m);
        else if (child.exitCode !== null || child.signalCode !== null)
          reject(new Error(`exited before printing ${re}: ${stderr}`));
        else waiters.push(look);
      };
      look();
      void done.then(look);
    });
  return { child, waitFor, done };
}

const run = (args: readonly string[], env?: Record<string, string>) => start(args, env).done;

function pgrep(args: string[]): number[] {
  try {
    return execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** Live processes started by one of `launchers` (the launcher puts its pid in their environment). */
function workersOf(launcherPids: readonly number[]): number[] {
  return pgrep(['-f', 'ganglion-worker']).filter((pid) => {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return launcherPids.some((l) => env.includes(`GANGLION_WORKER_OF=${l}`));
    } catch {
      return false;
    }
  });
}

const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const batches = (r: CliResult) => events(r.stdout).filter((e) => e.event === 'batch');

async function tensors(out: string, file: string) {
  return decodeSafetensors(new Uint8Array(await readFile(join(dir, out, file))), file).tensors;
}

/** The largest difference between the same tensors of two checkpoints. */
async function maxDiff(a: string, b: string, file: string): Promise<number> {
  const [x, y] = [await tensors(a, file), await tensors(b, file)];
  expect([...y.keys()].sort()).toEqual([...x.keys()].sort());
  let m = 0;
  for (const [key, t] of x) {
    const u = y.get(key)!.data;
    for (let i = 0; i < t.data.length; i++) m = Math.max(m, Math.abs(Number(t.data[i]) - Number(u[i])));
  }
  return m;
}

describe('ganglion train --workers 2', () => {
  test('trains what one process trains: losses, weights and Adam state within 1e-5 after 20 steps', async () => {
    const single = await run(['train', ...TINY, '--steps', '20', '--out', 'single']);
    expect(single.stderr).toBe('');
    const dp = await run(['train', ...TINY, '--steps', '20', '--out', 'dp', '--workers', '2', '--timeout', '20']);
    expect(dp.stderr).toBe('');
    expect(dp.code).toBe(0);
    const [want, got] = [batches(single), batches(dp)];
    expect(got.map((e) => e.step)).toEqual(want.map((e) => e.step));
    expect(got).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      expect(Math.abs(Number(got[i].loss) - Number(want[i].loss))).toBeLessThan(1e-5);
      expect(Math.abs(Number(got[i].gradNorm) - Number(want[i].gradNorm))).toBeLessThan(1e-5);
    }
    // The clip acted: every step's norm is above --max-norm 0.2, so the update saw the reduced gradient's norm.
    expect(Math.min(...want.map((e) => Number(e.gradNorm)))).toBeGreaterThan(0.2);
    const valLoss = (r: CliResult) => Number(events(r.stdout).find((e) => e.event === 'done')!.valLoss);
    expect(Math.abs(valLoss(dp) - valLoss(single))).toBeLessThan(1e-5);
    expect(await maxDiff('single', 'dp', 'weights.safetensors')).toBeLessThan(1e-5);
    expect(await maxDiff('single', 'dp', 'optimizer.safetensors')).toBeLessThan(1e-5);
    const note = events(dp.stdout).find((e) => String(e.text).startsWith('data parallel:'));
    expect(String(note?.text)).toMatch(
      /^data parallel: 2 ranks on NATS at nats:\/\/127\.0\.0\.1:\d+, config hash [0-9a-f]{12}; a step all-reduces 2,165 floats in \d+\.\d ms/,
    );
    // Only rank 0 wrote: the run folder holds one checkpoint, no other rank's data.
    expect((await readdir(join(dir, 'dp'))).sort()).toEqual(
      [
        '.ganglion',
        'graph.json',
        'loss.png',
        'loss.svg',
        'meta.json',
        'optimizer.safetensors',
        'tokenizer.json',
        'weights.safetensors',
      ].sort(),
    );
  }, 150_000);

  test('resumes on another world size (1 → 2 and 2 → 1 processes): as 20 steps in one process', async () => {
    const want = batches(await run(['train', ...TINY, '--steps', '20', '--out', 'whole']));
    expect((await run(['train', ...TINY, '--steps', '10', '--out', 'half'])).code).toBe(0);
    const same = TINY.filter(
      (a, i) => !['--embed', '--units'].includes(a) && !['--embed', '--units'].includes(TINY[i - 1]),
    );
    const resumed = await run(['train', ...same, '--steps', '20', '--out', 'half', '--resume', '--workers', '2']);
    expect(resumed.stderr).toBe('');
    expect(batches(resumed).map((e) => e.step)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    for (const e of batches(resumed))
      expect(Math.abs(Number(e.loss) - Number(want[Number(e.step) - 1].loss))).toBeLessThan(1e-5);
    expect(await maxDiff('whole', 'half', 'weights.safetensors')).toBeLessThan(1e-5);
    expect(await maxDiff('whole', 'half', 'optimizer.safetensors')).toBeLessThan(1e-5);
    // And back: 10 steps on two ranks, 10 more in one process.
    expect((await run(['train', ...TINY, '--steps', '10', '--out', 'back', '--workers', '2'])).code).toBe(0);
    const single = await run(['train', ...same, '--steps', '20', '--out', 'back', '--resume']);
    expect(single.stderr).toBe('');
    expect(batches(single).map((e) => e.step)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(await maxDiff('whole', 'back', 'weights.safetensors')).toBeLessThan(1e-5);
  }, 150_000);

  test.each([
    [
      'SIGKILL',
      'a worker',
      'ganglion-worker rank 1',
      /^ganglion train: DistributedError: rank 1 \(pid \d+ on .+\) stopped answering: no heartbeat for \d+\.\d s \(--timeout 3\)$/,
    ],
    [
      'SIGSTOP',
      'a worker',
      'ganglion-worker rank 1',
      /^ganglion train: DistributedError: rank 1 \(pid \d+ on .+\) stopped answering: no heartbeat for \d+\.\d s \(--timeout 3\)$/,
    ],
    [
      'SIGKILL',
      'the nats-server',
      'nats-server',
      /^ganglion train: DistributedError: lost the connection to NATS at nats:\/\/127\.0\.0\.1:\d+: /,
    ],
  ] as const)(
    '%s to %s mid-run: every process ends within the timeout with one line; the last checkpoint loads',
    async (signal, _, name, line) => {
      const out = `${signal}-${name.split(' ')[0]}`;
      const r = start([
        'train',
        ...TINY,
        '--steps',
        '5000',
        '--checkpoint-every',
        '5',
        '--out',
        out,
        '--workers',
        '2',
        '--timeout',
        '3',
      ]);
      await r.waitFor(/"event":"checkpoint","step":10,/);
      const workers = pgrep(['-P', String(r.child.pid), '-f', 'ganglion-worker']);
      expect(workers).toHaveLength(2);
      const [victim] = pgrep(['-P', String(r.child.pid), '-f', name]);
      expect(victim).toBeGreaterThan(0);
      process.kill(victim, signal);
      const killedAt = performance.now();
      const result = await r.done;
      // A stopped rank cannot stop itself: the launcher kills it 5 s after rank 0 has failed.
      expect((result.at - killedAt) / 1000).toBeLessThan(signal === 'SIGSTOP' ? 3 + 5 + 4 : 3 + 5);
      expectOneLineError(result, 1, line);
      expect(workers.filter((pid) => pgrep(['-f', 'ganglion-worker']).includes(pid))).toEqual([]);
      const inspect = await run(['inspect', out]);
      expect(inspect.code).toBe(0);
      const step = Number(/^step (\d+),/m.exec(inspect.stdout)?.[1]);
      expect(step % 5).toBe(0);
      expect(step).toBeGreaterThanOrEqual(10);
    },
  );

  test('SIGKILL to the launcher: its workers and its private server stop by themselves', async () => {
    const r = start(['train', ...TINY, '--steps', '5000', '--out', 'orphans', '--workers', '2', '--timeout', '3']);
    await r.waitFor(/"event":"batch","step":5,/);
    const run = r.child.spawnargs[r.child.spawnargs.indexOf('--run-id') + 1];
    expect(pgrep(['-f', run]).length).toBeGreaterThanOrEqual(2); // the launcher and its server
    expect(workersOf([r.child.pid!])).toHaveLength(2);
    r.child.kill('SIGKILL');
    await r.done;
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline && [...workersOf([r.child.pid!]), ...pgrep(['-f', run])].length > 0)
      await new Promise((ok) => setTimeout(ok, 200));
    expect([...workersOf([r.child.pid!]), ...pgrep(['-f', run])]).toEqual([]);
  }, 120_000);

  test('a private server: none left behind; a missing nats-server binary is one line naming the package', async () => {
    const r = await run(['train', ...TINY, '--steps', '2', '--out', 'nobin', '--workers', '2'], {
      GANGLION_NATS_SERVER: join(dir, 'no-such-nats-server'),
    });
    expectOneLineError(
      r,
      1,
      /no-such-nats-server is not installed: install the Debian package nats-server \(apt-get install nats-server\)/,
    );
  });
});

describe('ganglion train --nats URL --world W --rank R', () => {
  test('flags that cannot work are refused before anything starts; a URL where no server answers is one line', async () => {
    const refused: [string[], RegExp][] = [
      [['--world', '2', '--rank', '2'], /^--rank 2: ranks run from 0 to --world - 1 = 1$/],
      [['--world', '2'], /^--nats: also give --world W .* and --rank R/],
      [
        ['--world', '2', '--rank', '0', '--batch', '5'],
        /^--batch 5 does not split evenly over 2 ranks: use a multiple of 2$/,
      ],
      [
        ['--world', '2', '--rank', '0', '--backend', 'tfjs'],
        /^--world 2: the ranks run the compiled gradients graph; use --backend onnx/,
      ],
      [
        ['--world', '2', '--rank', '0', '--time-budget', '9'],
        /^--world 2: --time-budget would stop the ranks at different steps/,
      ],
    ];
    for (const [flags, message] of refused)
      expect(() => trainSettings([...TINY, '--nats', 'nats://127.0.0.1:1', ...flags])).toThrow(message);
    expect(() => trainSettings([...TINY, '--workers', '2', '--rank', '1'])).toThrow(
      /^--workers 2 starts ranks 0 to 1 itself; --world and --rank are for processes you start with --nats$/,
    );
    expect(() => trainSettings([...TINY, '--timeout', '5'])).toThrow(
      /^--timeout: data-parallel training needs --workers N/,
    );
    const t0 = performance.now();
    const r = await run([
      'train',
      ...TINY,
      '--steps',
      '2',
      '--out',
      'bad',
      '--nats',
      'nats://127.0.0.1:1',
      '--world',
      '2',
      '--rank',
      '0',
    ]);
    expectOneLineError(r, 1, /^ganglion train: ConfigError: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /);
    expect((performance.now() - t0) / 1000).toBeLessThan(10);
  }, 120_000);

  test('two processes with one rank, and ranks with different settings: every process stops with one line', async () => {
    const server = await startNatsServer(`${RUN}srv`);
    try {
      let n = 0;
      const rank = (r: number, id: string, more: string[] = []) =>
        start([
          'train',
          ...TINY,
          '--steps',
          '3',
          '--out',
          `${id}-${++n}`,
          '--nats',
          server.url,
          '--world',
          '2',
          '--rank',
          String(r),
          '--timeout',
          '5',
          '--run-id',
          `${RUN}${id}`,
          ...more,
        ]).done;
      const twins = await Promise.all([rank(0, 'twins'), rank(0, 'twins')]);
      for (const r of twins)
        expectOneLineError(
          r,
          1,
          /^ganglion train: DistributedError: two processes claim rank 0: pid \d+ on .+ and pid \d+ on .+; give each process its own --rank$/,
        );
      const differ = await Promise.all([rank(0, 'differ'), rank(1, 'differ', ['--lr', '0.02'])]);
      for (const r of differ)
        expectOneLineError(
          r,
          1,
          /^ganglion train: DistributedError: rank 1's lr \(0\.02\) differs from rank 0's \(0\.01\); config hash [0-9a-f]{12} vs [0-9a-f]{12}: /,
        );
    } finally {
      await server.stop();
    }
  }, 120_000);
});
