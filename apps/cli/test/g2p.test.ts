// Grapheme to phoneme end to end, as the built binary, for both architectures on a tiny size: a
// short `train --preset g2p[-transformer] --json` whose epoch and done events carry the held-out word and
// phoneme error rates, recomputed here another way (the framework's decoding of the same held-out
// words, scored by this file's own edit distance); `translate` in the framework and in onnxruntime
// and `run` on the exported encoder + stateful decoder-step files giving the same pronunciations of
// 200 held-out words with beam search; and the one-line errors of bad input.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cmudictG2p } from '@ganglion/text/node';
import { expectOneLineError, runCli } from './run-cli.js';

type Event = Record<string, unknown> & { event: string };

let dir: string;
const heldOut = cmudictG2p().heldOut;
/** The words `--val-words 150` decodes: evenly spaced through the sorted held-out words. */
const VALIDATED = Array.from({ length: 150 }, (_, i) => heldOut[Math.floor((i * heldOut.length) / 150)]);
/** 200 held-out words for the identity of the three decoders (every 31st). */
const WORDS = Array.from({ length: 200 }, (_, i) => heldOut[i * 31].word);

/** Levenshtein distance, by the textbook table. */
function distance(a: readonly string[], b: readonly string[]): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : i)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

const TINY: Record<string, string[]> = {
  g2p: ['--preset', 'g2p', '--embed', '16', '--units', '32'],
  'g2p-transformer': ['--preset', 'g2p-transformer', '--dim', '32', '--heads', '2', '--blocks', '1'],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-g2p-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(Object.keys(TINY))('%s: train, translate, export, run', (preset) => {
  const out = `${preset}-run`;
  let events: Event[];
  const lines = (stdout: string) => stdout.trimEnd().split('\n');

  beforeAll(async () => {
    const r = await runCli(
      [
        'train',
        ...TINY[preset],
        '--steps',
        '60',
        '--batch',
        '32',
        '--lr',
        '0.01',
        '--val-words',
        '150',
        '--seed',
        '1',
        '--out',
        out,
        '--json',
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Event);
  }, 120_000);

  test('the epoch and done events carry the held-out error rates, equal to a rescoring of the framework’s decoding', async () => {
    const epoch = events.find((e) => e.event === 'epoch')!;
    const done = events.find((e) => e.event === 'done')!;
    for (const e of [epoch, done]) {
      expect(e.valWordErrorRate).toBeGreaterThanOrEqual(0);
      expect(e.valWordErrorRate).toBeLessThanOrEqual(1);
      expect(e.valPhonemeErrorRate).toBeGreaterThan(0);
      expect(e.valPhonemeErrorRate).toBeLessThan(1);
    }
    expect(done.valWordErrorRate).toBe(epoch.valWordErrorRate);
    // The same words decoded greedily by the framework, scored here: a word is right when it is
    // any of its pronunciations; its phoneme errors count against the closest one.
    const r = await runCli(
      ['translate', out, '--backend', 'tfjs', '--text', VALIDATED.map((e) => e.word).join(' ')],
      dir,
    );
    expect(r.stderr).toBe('');
    const hyps = lines(r.stdout).map((l) => (l === '' ? [] : l.split(' ')));
    expect(hyps).toHaveLength(VALIDATED.length);
    let wrong = 0;
    let errors = 0;
    let length = 0;
    VALIDATED.forEach((e, i) => {
      const scored = e.pronunciations.map((p) => ({ d: distance(hyps[i], p), n: p.length }));
      const best = scored.reduce((a, b) => (b.d < a.d ? b : a));
      wrong += best.d > 0 ? 1 : 0;
      errors += best.d;
      length += best.n;
    });
    expect(done.valWordErrorRate).toBeCloseTo(wrong / VALIDATED.length, 12);
    expect(done.valPhonemeErrorRate).toBeCloseTo(errors / length, 12);
  }, 60_000);

  test('beam search on 200 held-out words: the framework, onnxruntime and the exported files agree', async () => {
    const text = WORDS.join(' ');
    const framework = await runCli(['translate', out, '--backend', 'tfjs', '--beam', '5', '--text', text], dir);
    expect(framework.stderr).toBe('');
    expect(lines(framework.stdout)).toHaveLength(200);
    const onnx = await runCli(['translate', out, '--beam', '5', '--text', text], dir);
    expect(onnx.stdout).toBe(framework.stdout);
    const exported = await runCli(['export', out, '--out', `${out}.onnx`], dir);
    expect(exported.stderr).toBe('');
    expect(exported.stdout).toMatch(preset === 'g2p' ? /state_in\.dec1\.h/ : /past_key_values\.0\.key/);
    // The two files alone, in a folder of their own.
    await mkdir(join(dir, `${out}-files`));
    for (const f of [`${out}.onnx`, `${out}.decoder.onnx`]) await copyFile(join(dir, f), join(dir, `${out}-files`, f));
    const run = await runCli(['run', join(`${out}-files`, `${out}.onnx`), '--beam', '5', '--text', text], dir);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(framework.stdout);
  }, 90_000);
});

describe('bad input is one line', () => {
  const out = 'g2p-run';
  test.each([
    [['--text', ''], /--text is empty: give one or more words/],
    [['--text', 'naïve'], /the word "naïve" has "ï", not among the 29 letters the model reads/],
    [['--text', 'a'.repeat(33)], /has 33 letters, but the model reads words of at most 32 .*refused, not truncated/],
    [[], /--text: give the words to pronounce/],
    [['--text', 'cat', '--beam', '0'], /--beam: expected a whole number >= 1/],
  ])('translate %j', async (args, message) => {
    expectOneLineError(await runCli(['translate', out, ...args], dir), 2, message);
  });

  test('run on the decoder half, a GPT flag on a g2p export, export --eval-text, generate, flags g2p training refuses', async () => {
    await writeFile(join(dir, 'x.txt'), 'some text');
    expectOneLineError(
      await runCli(['run', `${out}.decoder.onnx`, '--text', 'cat'], dir),
      1,
      /is the decoder half of a g2p export; run the encoder file beside it/,
    );
    expectOneLineError(
      await runCli(['run', `${out}.onnx`, '--prompt', 'cat'], dir),
      2,
      /--prompt: ".*" is a g2p export, which pronounces --text/,
    );
    expectOneLineError(
      await runCli(['export', out, '--out', 'x.onnx', '--eval-text', 'x.txt'], dir),
      2,
      /--eval-text: a g2p model reads words/,
    );
    expectOneLineError(
      await runCli(['train', '--preset', 'g2p', '--corpus', 'x.txt'], dir),
      2,
      /--corpus: preset g2p trains on CMUdict/,
    );
    expectOneLineError(
      await runCli(['train', '--preset', 'char-lstm', '--val-words', '5'], dir),
      2,
      /--val-words: only an encoder–decoder/,
    );
    expectOneLineError(
      await runCli(['generate', out, '--prompt', 'cat'], dir),
      1,
      /meta\.json: a g2p \(letters to phonemes\) model; pronounce words with `ganglion translate`/,
    );
  }, 60_000);
});
