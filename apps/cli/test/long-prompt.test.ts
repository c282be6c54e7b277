// Long prompts through the built binary: a 100,000-character prompt with `run` (a stateful .onnx
// file) and `generate --backend onnx`, on char-lstm-small and char-gpt checkpoints trained for two
// steps. Each exits 0 with the expected number of new characters, greedy text agrees between the
// backends, and peak memory does not grow with the prompt (the prompt is fed in chunks, the state
// carried between them). `generate --backend tfjs` is slower (tfjs-cpu: ~400 characters/s
// of prompt for the LSTM, ~50 for the GPT on 2 cores), so it is checked at shorter prompts here.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/ganglion.js', import.meta.url));
// Preloaded into the child: writes its peak resident set size (kB) to $GANGLION_TEST_RSS on exit.
const RSS_PRELOAD = `data:text/javascript,${encodeURIComponent("import { writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(process.env.GANGLION_TEST_RSS, String(process.resourceUsage().maxRSS)));")}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the child, in MB. */
  rssMb: number;
}

let dir: string;
let runs = 0;

function run(args: string[]): Promise<Result> {
  const rssFile = join(dir, `rss-${runs++}.txt`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', RSS_PRELOAD, BIN, ...args],
      {
        cwd: dir,
        timeout: 120_000,
        maxBuffer: 16 * 2 ** 20,
        env: { ...process.env, FORCE_COLOR: '0', GANGLION_TEST_RSS: rssFile },
      },
      (error, stdout, stderr) => {
        readFile(rssFile, 'utf8').then(
          (kb) =>
            resolve({
              code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
              stdout,
              stderr,
              rssMb: Number(kb) / 1024,
            }),
          () =>
            resolve({
              code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
              stdout,
              stderr,
              rssMb: Number.NaN,
            }),
        );
      },
    );
  });
}

const CORPUS =
  'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. ';
/** A prompt of `n` characters of the corpus's vocabulary, not a repetition of the corpus. */
function promptOf(n: number): string {
  let x = 12345;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += CORPUS[x % CORPUS.length];
  }
  return s;
}
const LONG = promptOf(100_000);
const SHORT = LONG.slice(-10_000);
const NEW = 20;
const GREEDY = ['--max-tokens', String(NEW), '--temperature', '0'];

/** The generated text after `prompt`, checking the exit status, stderr and its length. */
function generated(r: Result, prompt: string): string {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.startsWith(prompt)).toBe(true);
  const text = r.stdout.slice(prompt.length, -1);
  expect([...text].length).toBe(NEW);
  expect(r.stdout.endsWith('\n')).toBe(true);
  return text;
}

// Peak RSS of a 100k-character prompt may exceed a 10k one by garbage the collector has not
// reclaimed yet (~25 MB measured); an unchunked prompt cost gigabytes.
const RSS_MARGIN_MB = 80;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-long-prompt-'));
  await writeFile(join(dir, 'corpus.txt'), CORPUS.repeat(8));
  const train = (preset: string, out: string) =>
    run([
      'train',
      '--preset',
      preset,
      '--corpus',
      'corpus.txt',
      '--backend',
      'reference',
      '--batch',
      '4',
      '--seq-len',
      '12',
      '--steps',
      '2',
      '--seed',
      '1',
      '--out',
      out,
    ]);
  const trained = await Promise.all([train('char-lstm-small', 'lstm'), train('char-gpt', 'gpt')]);
  for (const t of trained) expect(t.code, t.stderr).toBe(0);
  // The GPT's RoPE tables must cover the whole prompt.
  const exported = await Promise.all([
    run(['export', 'lstm', '--out', 'lstm.onnx', '--stateful']),
    run(['export', 'gpt', '--out', 'gpt.onnx', '--stateful', '--max-positions', String(LONG.length + NEW)]),
  ]);
  for (const e of exported) expect(e.code, e.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a 100,000-character prompt', () => {
  test('char-lstm-small: run and generate --backend onnx agree, memory flat from 10k to 100k', async () => {
    const fileLong = await run(['run', 'lstm.onnx', '--prompt', LONG, ...GREEDY]);
    const fileShort = await run(['run', 'lstm.onnx', '--prompt', SHORT, ...GREEDY]);
    const onnxLong = await run(['generate', 'lstm', '--prompt', LONG, ...GREEDY, '--backend', 'onnx']);
    const onnxShort = await run(['generate', 'lstm', '--prompt', SHORT, ...GREEDY, '--backend', 'onnx']);
    expect(generated(onnxLong, LONG)).toBe(generated(fileLong, LONG));
    expect(generated(onnxShort, SHORT)).toBe(generated(fileShort, SHORT));
    expect(fileLong.rssMb).toBeLessThan(fileShort.rssMb + RSS_MARGIN_MB);
    expect(onnxLong.rssMb).toBeLessThan(onnxShort.rssMb + RSS_MARGIN_MB);
  }, 120_000);

  test('char-gpt (window 128): run and generate --backend onnx agree, memory flat from 10k to 100k', async () => {
    const fileLong = await run(['run', 'gpt.onnx', '--prompt', LONG, ...GREEDY]);
    const fileShort = await run(['run', 'gpt.onnx', '--prompt', SHORT, ...GREEDY]);
    expect(fileLong.rssMb).toBeLessThan(fileShort.rssMb + RSS_MARGIN_MB);
    // The runner is fed each wave's RoPE rows, so no table grows with the stream.
    const onnxLong = await run(['generate', 'gpt', '--prompt', LONG, ...GREEDY, '--backend', 'onnx']);
    const onnxShort = await run(['generate', 'gpt', '--prompt', SHORT, ...GREEDY, '--backend', 'onnx']);
    expect(generated(onnxLong, LONG)).toBe(generated(fileLong, LONG));
    expect(generated(onnxShort, SHORT)).toBe(generated(fileShort, SHORT));
    expect(onnxLong.rssMb).toBeLessThan(onnxShort.rssMb + RSS_MARGIN_MB);
  }, 180_000);
});

describe('generate --backend tfjs on a shorter prompt, several chunks long', () => {
  test('char-lstm-small, 3,000 characters: the same text as onnxruntime', async () => {
    const prompt = LONG.slice(0, 3000);
    const tfjs = await run(['generate', 'lstm', '--prompt', prompt, ...GREEDY, '--backend', 'tfjs']);
    const onnx = await run(['generate', 'lstm', '--prompt', prompt, ...GREEDY]);
    expect(generated(tfjs, prompt)).toBe(generated(onnx, prompt));
  }, 120_000);

  test('char-gpt, 600 characters (past the window and the 256-token chunk): the same text as onnxruntime', async () => {
    const prompt = LONG.slice(0, 600);
    const tfjs = await run(['generate', 'gpt', '--prompt', prompt, ...GREEDY, '--backend', 'tfjs']);
    const onnx = await run(['generate', 'gpt', '--prompt', prompt, ...GREEDY]);
    expect(generated(tfjs, prompt)).toBe(generated(onnx, prompt));
  }, 120_000);
});
