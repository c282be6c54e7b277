// The built `ganglion` binary, run as a child process the way a user runs it: train a tiny model
// for a few steps, generate (twice, same text), inspect, and every error case with its message and
// exit status.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { folderWithCorpus, runCli } from './run-cli.js';

const run = runCli;

let dir: string;
let corpus: string;
const TINY = ['--backend', 'reference', '--batch', '4', '--seq-len', '12', '--steps', '3', '--seed', '1'];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-cli-');
  corpus = join(dir, 'corpus.txt');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ganglion CLI', () => {
  test('train --json: event lines, a checkpoint and loss images', async () => {
    const r = await run(
      ['train', '--preset', 'char-lstm-small', '--corpus', corpus, ...TINY, '--out', 'model', '--json'],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const batches = events.filter((e) => e.event === 'batch');
    expect(batches.map((e) => e.step)).toEqual([1, 2, 3]);
    for (const b of batches)
      expect(Object.keys(b).sort()).toEqual(['event', 'gradNorm', 'loss', 'lr', 'step', 'tokensPerSecond']);
    const epoch = events.find((e) => e.event === 'epoch');
    expect(epoch.valBitsPerChar).toBeCloseTo(epoch.valLoss / Math.LN2, 10);
    expect(events.find((e) => e.event === 'checkpoint').path).toBe(join(dir, 'model'));
    const done = events.find((e) => e.event === 'done');
    expect(done.steps).toBe(3);
    expect(done.valBitsPerChar).toBeGreaterThan(0);
    for (const f of ['graph.json', 'weights.safetensors', 'optimizer.safetensors', 'meta.json', 'loss.svg', 'loss.png'])
      expect((await stat(join(dir, 'model', f))).size).toBeGreaterThan(0);
    expect((await readFile(join(dir, 'model', 'loss.png'))).subarray(1, 4).toString()).toBe('PNG');
    expect(await readFile(join(dir, 'model', 'loss.svg'), 'utf8')).toMatch(/^<svg /);
  });

  test('train without --json prints plain lines when stdout is not a TTY', async () => {
    const r = await run(['train', '--preset', 'char-lstm-small', '--corpus', corpus, ...TINY, '--out', 'plain'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toMatch(/step 3\/3 \[=+>\] 100% \| loss \d+\.\d{3}/);
    expect(r.stdout).toMatch(/validation loss \d+\.\d+ nats\/token = \d+\.\d{3} bits\/char/);
    expect(r.stdout).toContain(`loss curve: ${join(dir, 'plain', 'loss.svg')}`);
  });

  test('generate is deterministic for the same checkpoint, prompt and seed', async () => {
    const args = [
      'generate',
      'model',
      '--prompt',
      'it was',
      '--max-tokens',
      '30',
      '--seed',
      '7',
      '--backend',
      'reference',
    ];
    const a = await run(args, dir);
    const b = await run(args, dir);
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith('it was')).toBe(true);
    expect([...a.stdout.trimEnd()].length).toBe('it was'.length + 30);
    expect(b.stdout).toBe(a.stdout);
    const c = await run([...args.slice(0, -4), '--seed', '8', '--backend', 'reference'], dir);
    expect(c.stdout).not.toBe(a.stdout);
  });

  test('char-gpt trains, then generates past its context window with the KV cache, deterministically', async () => {
    const r = await run(['train', '--preset', 'char-gpt', '--corpus', corpus, ...TINY, '--out', 'gpt', '--json'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(
      JSON.parse(
        r.stdout
          .trim()
          .split('\n')
          .find((l) => l.includes('"done"'))!,
      ).steps,
    ).toBe(3);
    // 140 tokens after a 6-token prompt: the sliding window (128) drops the oldest cached keys.
    const args = [
      'generate',
      'gpt',
      '--prompt',
      'it was',
      '--max-tokens',
      '140',
      '--seed',
      '7',
      '--backend',
      'reference',
    ];
    const a = await run(args, dir);
    const b = await run(args, dir);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith('it was')).toBe(true);
    expect([...a.stdout.slice(0, -1)].length).toBe('it was'.length + 140);
    expect(b.stdout).toBe(a.stdout);
  });

  test('char-gpt export --stateful (past_key_values / present): greedy text from the file equals the framework past the window', async () => {
    const exp = await run(['export', 'gpt', '--out', 'gpt.onnx', '--stateful'], dir);
    expect(exp.stderr).toBe('');
    expect(exp.code).toBe(0);
    expect(exp.stdout).toMatch(
      /inputs: {2}ids \[batch, time\] int32, position_ids \[batch, time\] int32, past_key_values\.0\.key \[batch, 4, past_sequence_length, 32\] float32/,
    );
    expect(exp.stdout).toMatch(/present\.3\.value \[batch, 4, present_sequence_length, 32\] float32/);
    // 200 tokens, as the demo checks: past the 128-token window, so present.N drops the oldest keys.
    const greedy = ['--prompt', 'it was', '--max-tokens', '200', '--temperature', '0'];
    const fromFile = await run(['run', 'gpt.onnx', ...greedy], dir);
    const framework = await run(['generate', 'gpt', ...greedy, '--backend', 'tfjs'], dir);
    const onnxBackend = await run(['generate', 'gpt', ...greedy, '--backend', 'onnx'], dir);
    expect(fromFile.stderr).toBe('');
    expect(fromFile.code).toBe(0);
    expect([...fromFile.stdout.slice(0, -1)].length).toBe('it was'.length + 200);
    expect(fromFile.stdout).toBe(framework.stdout);
    expect(onnxBackend.stdout).toBe(framework.stdout);
    // A file exported for fewer positions says so instead of failing inside onnxruntime.
    expect(
      (await run(['export', 'gpt', '--out', 'gpt-short.onnx', '--stateful', '--max-positions', '50'], dir)).code,
    ).toBe(0);
    const short = await run(['run', 'gpt-short.onnx', ...greedy], dir);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(
      /ShapeError: ".*gpt-short\.onnx" covers stream positions 0\.\.49, but this step needs up to 50: export with a larger --max-positions/,
    );
  });

  test('inspect prints the summary table and the Mermaid graph', async () => {
    const r = await run(['inspect', 'model'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lstm1\s+LSTM\s+y: \[batch, time, 128\], h: \[batch, 128\], c: \[batch, 128\]\s+82,944/);
    expect(r.stdout).toContain('```mermaid\nflowchart TD');
    expect(r.stdout).toMatch(/preset char-lstm-small/);
  });

  test('export --stateful, then run from the file alone: greedy text equals the framework and onnx backends', async () => {
    const exp = await run(['export', 'model', '--out', 'model.onnx', '--stateful', '--opset', '18'], dir);
    expect(exp.code).toBe(0);
    expect(exp.stdout).toMatch(
      /inputs: {2}ids \[batch, time\] int32, state_in\.lstm1\.h \[batch, 128\] float32, state_in\.lstm1\.c/,
    );
    const greedy = ['--prompt', 'it was', '--max-tokens', '40', '--temperature', '0'];
    const fromFile = await run(['run', 'model.onnx', ...greedy], dir);
    const framework = await run(['generate', 'model', ...greedy, '--backend', 'tfjs'], dir);
    const onnxBackend = await run(['generate', 'model', ...greedy, '--backend', 'onnx'], dir);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout.length).toBeGreaterThan(40);
    expect(fromFile.stdout).toBe(framework.stdout);
    expect(onnxBackend.stdout).toBe(framework.stdout);
    const plain = await run(['export', 'model', '--out', 'plain.onnx'], dir);
    expect(plain.code).toBe(0);
    const notStateful = await run(['run', 'plain.onnx'], dir);
    expect(notStateful.code).toBe(1);
    expect(notStateful.stderr).toMatch(/is not a stateful export .*export it with `ganglion export --stateful`/);
  });

  test.each([
    [
      'a missing checkpoint',
      ['generate', 'no-such-dir'],
      1,
      /CheckpointError: .*no-such-dir: checkpoint directory does not exist/,
    ],
    [
      'a prompt outside the vocabulary',
      ['generate', 'model', '--prompt', 'Zebra Ω', '--backend', 'reference'],
      1,
      /characters that are not in the model's vocabulary: "Z" \(U\+005A\), "Ω" \(U\+03A9\)\. Nothing was generated/,
    ],
    ['an empty corpus', ['train', '--corpus', 'empty.txt', ...TINY], 1, /CorpusError: corpus "empty.txt" is empty/],
    [
      'a binary corpus',
      ['train', '--corpus', 'binary.bin', ...TINY],
      1,
      /CorpusError: corpus "binary.bin" looks binary \(a NUL byte at offset 2\)/,
    ],
    ['a missing corpus', ['train', '--corpus', 'nope.txt', ...TINY], 1, /cannot read corpus "nope.txt"/],
    ['a bad learning rate', ['train', '--lr', 'abc'], 2, /--lr: expected a number > 0, got "abc"/],
    [
      'a bad clip',
      ['train', '--clip', 'global-norm:-1'],
      2,
      /--clip global-norm:-1: clipping policy "global-norm" option maxNorm expects a number > 0, got "-1"/,
    ],
    [
      'a bad optimizer',
      ['train', '--optimizer', 'adamax'],
      2,
      /--optimizer: expected one of adam, adamw, sgd, rmsprop, adagrad, got "adamax"/,
    ],
    [
      'a bad temperature',
      ['generate', 'model', '--temperature=-1'],
      2,
      /--temperature: expected a number >= 0, got "-1"/,
    ],
    ['an unknown flag', ['train', '--epochz', '3'], 2, /Unknown option '--epochz'/],
    ['an unknown command', ['trian'], 2, /unknown command "trian"/],
    ['export without --out', ['export', 'model'], 2, /--out: the path of the \.onnx file to write is required/],
    [
      'export with a bad opset',
      ['export', 'model', '--out', 'x.onnx', '--opset', '12'],
      2,
      /--opset: expected a whole number >= 17 and <= 26, got "12"/,
    ],
    [
      'export with a bad --max-positions',
      ['export', 'model', '--out', 'x.onnx', '--max-positions', '0'],
      2,
      /--max-positions: expected a whole number >= 1, got "0"/,
    ],
    ['run on a missing file', ['run', 'missing.onnx'], 1, /ExportError: cannot read ONNX model "missing\.onnx"/],
  ])('%s', async (_, args, code, message) => {
    await writeFile(join(dir, 'empty.txt'), '');
    await writeFile(join(dir, 'binary.bin'), Buffer.from([0x50, 0x4b, 0x00, 0x03, 0xff, 0xfe]));
    const r = await run(args as string[], dir);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});
