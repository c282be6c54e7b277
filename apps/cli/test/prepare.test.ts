// `ganglion prepare` end to end through the CLI's entry point (main, in process): the folder it
// writes holds the ids of each split's text encoded whole (found here from the file's bytes),
// --json prints progress and a done event, several --corpus paths make one corpus, every
// tokenizer plugin that trains works, and bad input is one line on stderr with a non-zero exit
// and nothing written.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CharTokenizer } from '@ganglion/core';
import { builtinTokenizers } from '@ganglion/text';
import { openData } from '@ganglion/text/node';
import { main } from '../src/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-prepare-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ganglion ...args` in process, stdout not a terminal unless `tty`. */
async function ganglion(args: readonly string[], tty = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => (stdout += s), isTTY: tty, columns: 100 },
    stderr: { write: (s: string) => (stderr += s) },
  } as unknown as Parameters<typeof main>[1];
  const code = await main(args, io);
  return { code, stdout, stderr };
}

function expectOneLineError(r: Run, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

const TEXT =
  'It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(30) + 'The end.\n';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Where validation starts: the first ASCII whitespace after a letter or digit at or after byte B - round(0.05·B). */
function splitAt(text: string): number {
  const bytes = Buffer.byteLength(text);
  const target = bytes - Math.max(1, Math.round(0.05 * bytes));
  for (let i = 1; i < text.length; i++)
    if (
      Buffer.byteLength(text.slice(0, i)) >= target &&
      ' \t\n\r'.includes(text[i]) &&
      /[\p{L}\p{N}]/u.test(text[i - 1])
    )
      return i;
  throw new Error('no cut');
}

describe('ganglion prepare', () => {
  test('a text file with char: the token files, tokenizer.json and meta.json', async () => {
    const corpus = join(dir, 'tale.txt');
    writeFileSync(corpus, TEXT);
    const out = join(dir, 'tale');
    const r = await ganglion(['prepare', '--corpus', corpus, '--tokenizer', 'char', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`prepared ${out}: ${corpus}; tokenizer char,`);
    expect(readdirSync(out).sort()).toEqual(['meta.json', 'tokenizer.json', 'train.bin', 'val.bin']);
    const cut = splitAt(TEXT);
    const tokenizer = CharTokenizer.fromText(TEXT);
    expect(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'))).toEqual(tokenizer.toJSON());
    const u16 = (file: string) => {
      const b = readFileSync(join(out, file));
      return Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16LE(2 * i));
    };
    expect(u16('train.bin')).toEqual(Array.from(tokenizer.encode(TEXT.slice(0, cut))));
    expect(u16('val.bin')).toEqual(Array.from(tokenizer.encode(TEXT.slice(cut))));
    const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({
      format: 'ganglion-data',
      dtype: 'uint16',
      vocabSize: tokenizer.vocabSize,
      train: { tokens: cut, characters: cut, bytes: cut, sha256: sha256(readFileSync(join(out, 'train.bin'))) },
      validation: { tokens: TEXT.length - cut, sha256: sha256(readFileSync(join(out, 'val.bin'))) },
      sources: [{ path: corpus, bytes: TEXT.length, sha256: sha256(Buffer.from(TEXT)) }],
    });
  });

  test('--json: progress events for both passes and a done event; several --corpus paths make one corpus', async () => {
    const a = join(dir, 'a.txt');
    const folder = join(dir, 'more');
    mkdirSync(folder);
    writeFileSync(a, TEXT);
    writeFileSync(join(folder, 'b.txt'), TEXT.toUpperCase());
    const records = join(dir, 'c.jsonl');
    writeFileSync(records, `${JSON.stringify({ body: 'A record of text. '.repeat(20) })}\n`.repeat(5));
    const out = join(dir, 'many');
    const r = await ganglion([
      'prepare',
      '--corpus',
      a,
      '--corpus',
      folder,
      records,
      '--text-field',
      'body',
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const total = [a, join(folder, 'b.txt'), records].reduce((n, f) => n + readFileSync(f).length, 0);
    for (const pass of [1, 2])
      expect(events).toContainEqual({ event: 'progress', pass, bytes: total, totalBytes: total });
    const done = events.at(-1);
    const data = await openData(out, builtinTokenizers);
    expect(done).toMatchObject({
      event: 'done',
      out,
      tokenizer: 'char',
      dtype: 'uint16',
      train: { tokens: data.train.length },
      validation: { tokens: data.validation.length },
    });
    expect(data.meta.sources.map((s) => s.path)).toEqual([a, join(folder, 'b.txt'), records]);
    expect(data.meta.train.documents + data.meta.validation.documents).toBeGreaterThanOrEqual(7);
    data.close();
  });

  test('a progress bar on a terminal; with no --corpus, Moby-Dick', async () => {
    const out = join(dir, 'moby');
    const r = await ganglion(['prepare', '--out', out], true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('\r\x1b[Kpass 1/2 training the tokenizer [');
    expect(r.stdout).toMatch(/pass 2\/2 encoding \[[=> ]{24}\] +\d+% \|/);
    expect(r.stdout).toContain('prepared');
    expect(r.stdout).toContain('Moby-Dick (139 parts; last 7 held out)');
    expect(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).validation.characters).toBe(86543);
  });

  const trainable = builtinTokenizers.plugins
    .filter((p) => p.trainer)
    .map((p) => (p.kind === 'bpe' ? 'bpe:300' : p.kind));
  test.each(trainable)('--tokenizer %s: each split holds the ids of its text encoded whole', async (spec) => {
    const corpus = join(dir, 'spec.txt');
    writeFileSync(corpus, TEXT);
    const out = join(dir, `spec-${spec.replace(':', '-')}`);
    const r = await ganglion(['prepare', '--corpus', corpus, '--tokenizer', spec, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const data = await openData(out, builtinTokenizers);
    const ids = (s: typeof data.train) => {
      const a = new Int32Array(s.length);
      s.read(0, a);
      return Array.from(a);
    };
    const cut = splitAt(TEXT);
    expect(ids(data.train)).toEqual(Array.from(data.tokenizer.encode(TEXT.slice(0, cut))));
    expect(ids(data.validation)).toEqual(Array.from(data.tokenizer.encode(TEXT.slice(cut))));
    data.close();
  });

  test('bad input: one line on stderr, a non-zero exit, nothing written', async () => {
    const corpus = join(dir, 'ok.txt');
    writeFileSync(corpus, TEXT);
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'mine.txt'), 'keep me');
    const utf16 = join(dir, 'wide.txt');
    writeFileSync(utf16, Buffer.from(`\uFEFF${TEXT}`, 'utf16le'));
    const cases: [string[], number, RegExp][] = [
      [
        ['--corpus', corpus, '--out', foreign],
        2,
        /^ganglion prepare: --out "[^"]*foreign" is not a Ganglion data folder \(it holds files \("mine\.txt"\)/,
      ],
      [
        ['--corpus', corpus, '--out', 'X', '--held-out', '0.5'],
        2,
        /^ganglion prepare: --held-out: expected a number > 0 and < 0\.5, got "0\.5"$/,
      ],
      [
        ['--corpus', corpus, '--out', 'X', '--tokenizer', 'nope'],
        2,
        /^ganglion prepare: --tokenizer nope: unknown kind "nope"; expected one of char, word, bpe, hf$/,
      ],
      [['--corpus', corpus], 2, /^ganglion prepare: --out: give the folder to write/],
      [
        ['--corpus', utf16, '--out', 'X'],
        1,
        /^ganglion prepare: CorpusError: corpus "[^"]*wide\.txt" is UTF-16 LE, not UTF-8/,
      ],
      [
        ['--corpus', join(dir, 'missing.txt'), '--out', 'X'],
        1,
        /^ganglion prepare: CorpusError: cannot read corpus "[^"]*missing\.txt": no such file or folder$/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const out = args[args.indexOf('--out') + 1];
      const target = out === 'X' ? join(dir, 'never') : out;
      const r = await ganglion(['prepare', ...args.map((a) => (a === 'X' ? target : a))]);
      expectOneLineError(r, code, message);
      if (out === 'X') expect(existsSync(target)).toBe(false);
    }
    expect(readdirSync(foreign)).toEqual(['mine.txt']);
  });

  test('--help lists the tokenizer kinds', async () => {
    const r = await ganglion(['prepare', '--help']);
    expect(r.code).toBe(0);
    for (const p of builtinTokenizers.plugins) expect(r.stdout).toContain(p.description);
  });
});
