// --top-k and --top-p through the built binary, on `generate` (onnxruntime, the default backend, and
// tfjs) and on `run` from a stateful export: keeping one candidate is greedy decoding whatever the
// temperature; a wider cut samples, the same text for the same seed on every backend.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { folderWithCorpus, runCli, TINY_TRAIN } from './run-cli.js';

let dir: string;

const run = (args: string[]) => runCli(args, dir);

async function text(args: string[]): Promise<string> {
  const r = await run(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.endsWith('\n')).toBe(true);
  expect([...r.stdout.slice(0, -1)].length).toBe('it was'.length + 40);
  return r.stdout;
}

const GEN = ['--prompt', 'it was', '--max-tokens', '40'];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-sampling-');
  const t = await run(['train', ...TINY_TRAIN, '--steps', '3', '--out', 'model']);
  expect(t.code, t.stderr).toBe(0);
  const e = await run(['export', 'model', '--out', 'model.onnx', '--stateful']);
  expect(e.code, e.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('--top-k and --top-p', () => {
  test('--top-k 1 and --top-p 1e-9 at temperature 1 are greedy (generate and run)', async () => {
    const greedy = await text(['generate', 'model', ...GEN, '--temperature', '0']);
    expect(greedy).toBe(await text(['run', 'model.onnx', ...GEN, '--temperature', '0']));
    for (const cut of [
      ['--top-k', '1'],
      ['--top-p', '1e-9'],
    ]) {
      expect(await text(['generate', 'model', ...GEN, '--temperature', '1', '--seed', '5', ...cut])).toBe(greedy);
      expect(await text(['run', 'model.onnx', ...GEN, '--temperature', '1', '--seed', '5', ...cut])).toBe(greedy);
    }
  }, 60_000);

  test('--top-k 5 samples: deterministic for a seed, the same on every backend and from the file, not greedy', async () => {
    const args = [...GEN, '--temperature', '1', '--top-k', '5', '--seed', '5'];
    const a = await text(['generate', 'model', ...args]);
    expect(await text(['generate', 'model', ...args])).toBe(a);
    expect(await text(['generate', 'model', ...args, '--backend', 'tfjs'])).toBe(a);
    expect(await text(['run', 'model.onnx', ...args])).toBe(a);
    expect(a).not.toBe(await text(['generate', 'model', ...GEN, '--temperature', '0']));
    expect(await text(['generate', 'model', ...args.slice(0, -1), '6'])).not.toBe(a);
    // --top-p 0.9 also samples, and its cut is not top-k 5's.
    const p = await text(['generate', 'model', ...GEN, '--temperature', '1', '--top-p', '0.9', '--seed', '5']);
    expect(await text(['run', 'model.onnx', ...GEN, '--temperature', '1', '--top-p', '0.9', '--seed', '5'])).toBe(p);
  }, 60_000);

  test('generate --help names onnx as the default backend', async () => {
    const r = await run(['generate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--backend: onnx \(the default, the fastest\)/);
  });
});
