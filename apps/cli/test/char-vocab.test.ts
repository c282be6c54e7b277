// The character vocabulary cap end to end through the built binary (`--tokenizer char:N`):
// vocabulary size, unknown ids in the token files, the note, and prompts with rare characters;
// each checked against counts made here with a Map over the training text.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TINY_TRAIN, runCli } from './run-cli.js';

const run = runCli;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-char-vocab-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The characters of the training split: those starting before byte B - round(5% of B) (CJK text has no whitespace to cut at). */
function trainingChars(text: string): string[] {
  const bytes = Buffer.byteLength(text);
  const target = bytes - Math.max(1, Math.round(bytes * 0.05));
  const out: string[] = [];
  let at = 0;
  for (const c of text) {
    if (at >= target) break;
    out.push(c);
    at += Buffer.byteLength(c);
  }
  return out;
}

describe('ganglion train --tokenizer char:N', () => {
  test('keeps the N-1 most frequent characters, maps the rest to the unknown token, and says so', async () => {
    // 120 distinct CJK characters; character k occurs (k % 9) + 1 times, so many counts tie.
    let text = '';
    for (let k = 0; k < 120; k++)
      text += String.fromCodePoint(0x4e00 + ((k * 37) % 120)).repeat((((k * 37) % 120) % 9) + 1);
    text = text.repeat(3);
    const path = join(dir, 'cjk.txt');
    await writeFile(path, text);
    const N = 50;
    // TINY_TRAIN's corpus.txt is replaced by this one (the last --corpus wins).
    const r = await run(
      ['train', ...TINY_TRAIN, '--corpus', path, '--steps', '2', '--tokenizer', `char:${N}`, '--out', 'capped'],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // Independently: count the training text with a Map, sort by count (descending) then code point, keep N-1.
    const train = trainingChars(text);
    const counts = new Map<string, number>();
    for (const c of train) counts.set(c, (counts.get(c) ?? 0) + 1);
    const byFrequency = [...counts.keys()].sort(
      (a, b) => counts.get(b)! - counts.get(a)! || a.codePointAt(0)! - b.codePointAt(0)!,
    );
    const kept = byFrequency.slice(0, N - 1).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const rare = byFrequency.slice(N - 1);

    const tokenizer = JSON.parse(await readFile(join(dir, 'capped', 'tokenizer.json'), 'utf8'));
    expect(tokenizer.vocab).toHaveLength(N);
    expect(tokenizer).toEqual({ kind: 'char', vocab: [...kept, '\uFFFD'], unknown: N - 1 });
    // The note counts the whole text's occurrences of the rare characters.
    const all = [...text];
    const rareAll = all.filter((c) => rare.includes(c)).length;
    const percent = ((100 * rareAll) / all.length).toFixed(2);
    expect(r.stdout).toContain(
      `vocabulary: ${N} tokens for 120 distinct characters; the other ${rare.length} (${rareAll.toLocaleString('en-US')} occurrences, ${percent}% of the text) map to the unknown token`,
    );

    // The training ids (uint16, little-endian): kept characters by their index, rare ones to the unknown id.
    const expected = train.map((c) => (kept.includes(c) ? kept.indexOf(c) : N - 1));
    const bin = await readFile(join(dir, 'capped', '.ganglion', 'data', 'train.bin'));
    expect(Array.from({ length: bin.length / 2 }, (_, i) => bin.readUInt16LE(2 * i))).toEqual(expected);

    // A prompt with a rare character maps it to the unknown token instead of being refused.
    const g = await run(
      [
        'generate',
        'capped',
        '--prompt',
        `${kept[0]}${rare[0]}`,
        '--max-tokens',
        '3',
        '--backend',
        'reference',
        '--seed',
        '1',
      ],
      dir,
    );
    expect(g.stderr).toBe('');
    expect(g.code).toBe(0);
    expect([...g.stdout.trimEnd()].length).toBe(2 + 3);
  });

  test('char:N must be a whole number >= 2, named in the error', async () => {
    for (const bad of ['0', 'abc']) {
      const r = await run(['train', '--tokenizer', `char:${bad}`, '--steps', '1', '--out', `bad-${bad}`], dir);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `ganglion train: --tokenizer char:${bad}: the vocabulary size must be a whole number >= 2`,
      );
      await expect(readdir(join(dir, `bad-${bad}`))).rejects.toThrow(/ENOENT/);
    }
  });
});
