// Shared by the CLI test files: run the built `ganglion` binary as a child process the way a user
// does, snapshot a folder's files to prove nothing changed, and check that an error is the one
// clear line the CLI promises.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const BIN = fileURLToPath(new URL('../bin/ganglion.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ganglion ...args` in `cwd`; a run past `timeoutMs` is killed and fails with code 124. */
export function runCli(
  args: readonly string[],
  cwd: string,
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd,
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
      },
      (error, stdout, stderr) => {
        const killed = error && (error as { killed?: boolean }).killed;
        resolve({ code: killed ? 124 : error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Every file under `dir` (recursively, hidden ones included) -> sha256 of its bytes. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      if (e.isDirectory()) await walk(path);
      else
        out[path] = createHash('sha256')
          .update(await readFile(join(dir, path)))
          .digest('hex');
    }
  };
  await walk('');
  return out;
}

/** The run failed with `code` and exactly one line on stderr, no stack trace, matching `message`. */
export function expectOneLineError(r: CliResult, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0]).toMatch(message);
}

/** The small text the CLI tests train on. */
const TINY_CORPUS =
  'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. '.repeat(
    8,
  );

/** `train` flags for a model small enough to train in seconds on the reference backend, on `corpus.txt`. */
export const TINY_TRAIN = [
  '--preset',
  'char-lstm-small',
  '--corpus',
  'corpus.txt',
  '--backend',
  'reference',
  '--batch',
  '4',
  '--seq-len',
  '12',
  '--seed',
  '1',
];

/** A fresh temporary folder holding `corpus.txt` (TINY_CORPUS); the caller removes it. */
export async function folderWithCorpus(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'corpus.txt'), TINY_CORPUS);
  return dir;
}
