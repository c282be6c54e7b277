// Bad corpora: each is refused with one line that names the file (and line) and says what is
// wrong — the encoding it is in instead of UTF-8, a bad .jsonl line, nothing to read — and
// nothing is written: the output folder does not exist afterwards.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CharTokenizer, type Tokenizer } from '@ganglion/core';
import { prepareData } from './prepare.js';
import { corpusFromPaths } from './sources.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-sources-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely, I went to sea. '.repeat(20);

/** Writes `bytes` as `name`, prepares it, and returns the error message (the output folder must not exist after). */
async function failure(
  name: string,
  bytes: Uint8Array | string | undefined,
  options: { textField?: string; tokenizer?: string | Tokenizer; chunkBytes?: number } = {},
): Promise<string> {
  const path = join(root, name);
  if (bytes !== undefined) writeFileSync(path, bytes);
  const out = join(root, `out-${name.replace(/\W/g, '_')}`);
  let message = '';
  try {
    const corpus = await corpusFromPaths([path], { textField: options.textField });
    await prepareData({ corpus, tokenizer: options.tokenizer ?? 'char', out, chunkBytes: options.chunkBytes });
  } catch (e) {
    message = (e as Error).message;
  }
  expect(existsSync(out), `${name}: ${out} was written`).toBe(false);
  expect(message.split('\n')).toHaveLength(1);
  return message;
}

const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf32 = (s: string, bigEndian: boolean) => {
  const b = Buffer.alloc([...s].length * 4);
  [...s].forEach((c, i) =>
    bigEndian ? b.writeUInt32BE(c.codePointAt(0)!, 4 * i) : b.writeUInt32LE(c.codePointAt(0)!, 4 * i),
  );
  return b;
};

describe('a corpus in another encoding is refused, saying which', () => {
  test.each([
    [
      'utf16le-bom.txt',
      utf16le(`\uFEFF${TEXT}`),
      /"[^"]*utf16le-bom\.txt" is UTF-16 LE, not UTF-8 \(it starts with a byte-order mark\); convert it first, e\.g\. iconv -f UTF-16LE -t UTF-8/,
    ],
    [
      'utf16be-bom.txt',
      utf16le(`\uFEFF${TEXT}`).swap16(),
      /is UTF-16 BE, not UTF-8 \(it starts with a byte-order mark\)/,
    ],
    [
      'utf16le.txt',
      utf16le(TEXT),
      /is UTF-16 LE, not UTF-8 \(a NUL byte every other byte\); convert it first, e\.g\. iconv -f UTF-16LE/,
    ],
    ['utf16be.txt', utf16le(TEXT).swap16(), /is UTF-16 BE, not UTF-8 \(a NUL byte every other byte\)/],
    [
      'utf32le.txt',
      utf32(TEXT, false),
      /is UTF-32 LE, not UTF-8 \(NUL bytes\); convert it first, e\.g\. iconv -f UTF-32LE/,
    ],
    ['utf32be-bom.txt', utf32(`\uFEFF${TEXT}`, true), /is UTF-32 BE, not UTF-8 \(it starts with a byte-order mark\)/],
    [
      'latin1.txt',
      Buffer.from(`café ${TEXT}`, 'latin1'),
      /"[^"]*latin1\.txt" is Latin-1 \(ISO-8859-1\) or Windows-1252, not UTF-8 \(byte 0xE9 at offset 3 is not valid UTF-8\); convert it first, e\.g\. iconv -f WINDOWS-1252 -t UTF-8/,
    ],
    [
      'cp1252.txt',
      Buffer.concat([Buffer.from(TEXT), Buffer.from([0x93]), Buffer.from('quoted'), Buffer.from([0x94])]),
      new RegExp(`is Windows-1252, not UTF-8 \\(byte 0x93 at offset ${TEXT.length} is not valid UTF-8\\)`),
    ],
    [
      'nul.bin',
      Buffer.concat([Buffer.from('a'.repeat(300)), Buffer.from([0]), Buffer.from('b'.repeat(300))]),
      /"[^"]*nul\.bin" looks binary \(a NUL byte at offset 300\); give a UTF-8 text file/,
    ],
    [
      'random.bin',
      Buffer.from(Array.from({ length: 4000 }, (_, i) => 1 + ((i * 7919) % 255))),
      /looks binary \(byte 0x[0-9A-F]{2} at offset \d+ is not valid UTF-8\)/,
    ],
  ])('%s', async (name, bytes, message) => {
    expect(await failure(name, bytes)).toMatch(message);
  });

  test('invalid UTF-8 far into a file, read in small chunks, at its exact offset; a character cut off by the end of the file', async () => {
    const late = Buffer.concat([Buffer.from(`${TEXT}€`), Buffer.from([0xe9]), Buffer.from(' end')]);
    expect(await failure('late.txt', late, { chunkBytes: 64 })).toMatch(
      new RegExp(`byte 0xE9 at offset ${Buffer.byteLength(`${TEXT}€`)} is not valid UTF-8`),
    );
    const cut = Buffer.concat([Buffer.from(TEXT), Buffer.from('€').subarray(0, 2)]);
    expect(await failure('cut.txt', cut, { chunkBytes: 64 })).toMatch(
      new RegExp(`byte 0xE2 at offset ${Buffer.byteLength(TEXT)} is not valid UTF-8`),
    );
  });
});

describe('other bad corpora', () => {
  test('empty, missing, a folder without *.txt, a folder of empty files', async () => {
    expect(await failure('empty.txt', '')).toMatch(
      /corpus "[^"]*empty\.txt" is empty: a language model needs text to learn from/,
    );
    expect(await failure('missing.txt', undefined)).toMatch(
      /cannot read corpus "[^"]*missing\.txt": no such file or folder/,
    );
    mkdirSync(join(root, 'no-txt'));
    writeFileSync(join(root, 'no-txt', 'a.md'), TEXT);
    expect(await failure('no-txt', undefined)).toMatch(/corpus folder "[^"]*no-txt" holds no \*\.txt files/);
    mkdirSync(join(root, 'blank'));
    writeFileSync(join(root, 'blank', 'a.txt'), '');
    writeFileSync(join(root, 'blank', 'b.txt'), '');
    expect(await failure('blank', undefined)).toMatch(
      /corpus "2 files under [^"]*blank" holds no text: a language model needs text/,
    );
  });

  test.each([
    [
      'not-json.jsonl',
      '{"text": "fine"}\n{"text": "also fine"}\n{"text": oops}\n',
      /not-json\.jsonl line 3: not JSON \(/,
    ],
    [
      'no-field.jsonl',
      '{"text": "fine"}\n{"body": "other"}\n',
      /no-field\.jsonl line 2: no "text" field \(choose the field with --text-field\)/,
    ],
    ['empty-field.jsonl', '{"text": "fine"}\n\n{"text": ""}\n', /empty-field\.jsonl line 3: "text" is empty/],
    ['number.jsonl', '{"text": 42}\n', /number\.jsonl line 1: "text" is a number, expected a string/],
    ['array.jsonl', '["text"]\n', /array\.jsonl line 1: expected a JSON object with a "text" field, got an array/],
    ['blank.jsonl', '\n  \n\n', /blank\.jsonl" holds no records \(every line is blank\)/],
  ])('.jsonl: %s', async (name, content, message) => {
    expect(await failure(name, content)).toMatch(message);
  });

  test('--text-field names the field that is missing', async () => {
    expect(await failure('field.jsonl', '{"text": "x"}\n', { textField: 'content' })).toMatch(
      /field\.jsonl line 1: no "content" field/,
    );
  });

  test('an unknown tokenizer kind lists the known ones; a vocabulary past 2^32 ids is refused', async () => {
    expect(await failure('kind.txt', TEXT, { tokenizer: 'nope:12' })).toMatch(
      /unknown tokenizer "nope"; expected one of char/,
    );
    const huge: Tokenizer = {
      kind: 'huge',
      vocabSize: 2 ** 32 + 1,
      encode: (t) => CharTokenizer.fromText(TEXT).encode(t),
      decode: () => '',
      unknown: () => [],
      specialId: () => undefined,
      toJSON: () => ({ kind: 'huge' }),
    };
    expect(await failure('huge.txt', TEXT, { tokenizer: huge })).toMatch(
      /the tokenizer has 4,294,967,297 tokens; token files hold ids up to 2\^32 \(4,294,967,296 tokens\)/,
    );
  });

  test('a single .jsonl record cannot be split into training and validation text', async () => {
    expect(await failure('one.jsonl', `${JSON.stringify({ text: TEXT })}\n`)).toMatch(
      /the training split is empty \(one document, which a \.jsonl record cannot split\)/,
    );
  });
});
