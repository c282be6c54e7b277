// `ganglion export --quantize int8 / --dtype float16 / --eval-text` through the built binary: the
// sizes it prints against the files on disk, `ganglion run` on a quantized stateful file, the
// held-out loss of the float32 export against one computed here in onnxruntime, and the usage
// errors, which write nothing.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CharTokenizer } from '@ganglion/core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOneLineError, folderWithCorpus, runCli } from './run-cli.js';

let dir: string;
const HELD_OUT = 'it was the age of foolishness, it was the best of times, it was the worst of wisdom.';

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-export-quantize-');
  await writeFile(join(dir, 'held.txt'), HELD_OUT);
  const r = await runCli(
    [
      'train',
      '--preset',
      'char-gpt',
      '--corpus',
      'corpus.txt',
      '--backend',
      'reference',
      '--batch',
      '2',
      '--seq-len',
      '8',
      '--steps',
      '2',
      '--seed',
      '1',
      '--out',
      'gpt',
      '--json',
    ],
    dir,
  );
  expect(r.code, r.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

/** Mean next-token cross-entropy of a plain export over `ids`, window by window, in float64. */
async function crossEntropy(file: string, ids: Int32Array, context: number): Promise<number> {
  const session = await ort.InferenceSession.create(file);
  let total = 0;
  for (let start = 0; start < ids.length - 1; start += context) {
    const input = ids.slice(start, Math.min(start + context, ids.length - 1));
    const out = await session.run({ ids: new ort.Tensor('int32', input, [1, input.length]) });
    const logits = out.logits.data as Float32Array;
    const vocab = logits.length / input.length;
    input.forEach((_, t) => {
      const row = Array.from(logits.subarray(t * vocab, (t + 1) * vocab));
      const logSumExp = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      total += logSumExp - row[ids[start + t + 1]];
    });
  }
  await session.release();
  return total / (ids.length - 1);
}

describe('ganglion export, narrowed weights', () => {
  test('--stateful --quantize int8: the printed sizes are the files, under half the float32 one, and run works', async () => {
    const float = await runCli(['export', 'gpt', '--out', 'f32.onnx', '--stateful'], dir);
    expect(float.code, float.stderr).toBe(0);
    const floatBytes = (await stat(join(dir, 'f32.onnx'))).size;
    expect(float.stdout).toContain(`f32.onnx (${mb(floatBytes)} MB)\n`);

    const int8 = await runCli(['export', 'gpt', '--out', 'int8.onnx', '--stateful', '--quantize', 'int8'], dir);
    expect(int8.code, int8.stderr).toBe(0);
    const bytes = (await stat(join(dir, 'int8.onnx'))).size;
    // char-gpt: 4 blocks of 4 weight matrices, and the tied embedding once.
    expect(int8.stdout).toContain(
      `int8.onnx (${mb(bytes)} MB, ${(bytes / floatBytes).toFixed(3)} of the float32 export's ${mb(floatBytes)} MB: 17 tensors int8)\n`,
    );
    // The RoPE tables for 4096 positions stay float32; the weights shrink 4 times.
    expect(bytes / floatBytes).toBeLessThan(0.5);
    expect(int8.stdout).toMatch(
      /inputs: {2}ids \[batch, time\] int32, position_ids \[batch, time\] int32, past_key_values/,
    );

    const both = await runCli(
      ['export', 'gpt', '--out', 'both.onnx', '--stateful', '--quantize', 'int8', '--dtype', 'float16'],
      dir,
    );
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/both\.onnx \(.*: 17 tensors int8, \d+ float16\)/);
    expect((await stat(join(dir, 'both.onnx'))).size).toBeLessThan(bytes);

    for (const file of ['int8.onnx', 'both.onnx']) {
      const gen = await runCli(['run', file, '--prompt', 'it was', '--max-tokens', '30', '--temperature', '0'], dir);
      expect(gen.stderr).toBe('');
      expect(gen.code).toBe(0);
      expect([...gen.stdout.slice(0, -1)].length).toBe('it was'.length + 30);
    }
  });

  test('--eval-text: the float32 loss equals one computed here; float16 is within float16 rounding of it', async () => {
    const plain = await runCli(['export', 'gpt', '--out', 'plain.onnx'], dir);
    expect(plain.code, plain.stderr).toBe(0);
    const tokenizer = CharTokenizer.fromJSON(JSON.parse(await readFile(join(dir, 'gpt', 'tokenizer.json'), 'utf8')));
    const ids = tokenizer.encode(HELD_OUT);
    const expected = await crossEntropy(join(dir, 'plain.onnx'), ids, 16);

    const r = await runCli(
      ['export', 'gpt', '--out', 'half.onnx', '--dtype', 'float16', '--eval-text', 'held.txt', '--eval-context', '16'],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const m = r.stdout.match(
      /held-out loss on held\.txt \((\d+) tokens\): ([\d.]+) nats\/token, ([\d.]+) bits\/char; float32 export ([\d.]+) nats\/token, [\d.]+ bits\/char \(([-+][\d.]+)%\)/,
    );
    expect(m, r.stdout).not.toBeNull();
    const [tokens, half, bitsPerChar, float, percent] = m!.slice(1).map(Number);
    expect(tokens).toBe(ids.length - 1);
    expect(Math.abs(float - expected)).toBeLessThan(1e-4);
    expect(bitsPerChar).toBeCloseTo((half * tokens) / HELD_OUT.length / Math.LN2, 3);
    expect(Math.abs(half - float) / float).toBeLessThan(1e-3);
    expect(percent).toBeCloseTo(100 * (half / float - 1), 1);

    // A stateful int8 file, evaluated from empty caches, against the same float32 number.
    const q = await runCli(
      [
        'export',
        'gpt',
        '--out',
        'q.onnx',
        '--stateful',
        '--quantize',
        'int8',
        '--eval-text',
        'held.txt',
        '--eval-context',
        '16',
      ],
      dir,
    );
    expect(q.code, q.stderr).toBe(0);
    const float2 = Number(q.stdout.match(/float32 export ([\d.]+) nats\/token/)![1]);
    expect(Math.abs(float2 - expected)).toBeLessThan(1e-4);
  });

  test.each([
    ['an unknown --quantize', ['--quantize', 'int4'], /--quantize: expected one of int8, got "int4"/],
    ['an unknown --dtype', ['--dtype', 'bfloat16'], /--dtype: expected one of float32, float16, got "bfloat16"/],
    ['--eval-context without --eval-text', ['--eval-context', '16'], /--eval-context: give --eval-text FILE too/],
    ['a missing --eval-text file', ['--eval-text', 'nope.txt'], /--eval-text "nope\.txt": no such file/],
    [
      'held-out text outside the vocabulary',
      ['--eval-text', 'odd.txt'],
      /--eval-text "odd\.txt": 1 character\(s\) are not in the model's vocabulary \(first "ж"\)/,
    ],
  ])('%s is one usage error, and nothing is written', async (_, flags, message) => {
    await writeFile(join(dir, 'odd.txt'), 'it was ж');
    const r = await runCli(['export', 'gpt', '--out', 'never.onnx', ...flags], dir);
    expectOneLineError(r, 2, message);
    await expect(stat(join(dir, 'never.onnx'))).rejects.toThrow(/ENOENT/);
  });
});
