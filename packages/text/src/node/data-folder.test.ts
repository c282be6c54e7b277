// Reading a data folder: a folder missing any of its four files, or with a token file that does
// not match meta.json, is one clear error naming the file; and a large token file (50M tokens,
// 100 MB, written here without a tokenizer) trains by window in bounded memory, its windows equal
// to the ids the file was written from.
import {
  copyFileSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CharTokenizer, ReferenceBackend, lmDataset } from '@ganglion/core';
import { builtinTokenizers } from '../index.js';
import { dataDirStatus } from './data-folder.js';
import { openData } from './open-data.js';
import { prepareData } from './prepare.js';
import { corpusFromPaths } from './sources.js';

let root: string;
let good: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-data-'));
  writeFileSync(join(root, 'corpus.txt'), 'It was the best of times, it was the worst of times. '.repeat(40));
  good = join(root, 'good');
  await prepareData({ corpus: await corpusFromPaths([join(root, 'corpus.txt')]), tokenizer: 'char', out: good });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the good folder, changed by `change`. */
function broken(name: string, change: (dir: string) => void): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const f of readdirSync(good)) copyFileSync(join(good, f), join(dir, f));
  change(dir);
  return dir;
}

describe('openData', () => {
  test('the folder prepare wrote opens; its status is "data"', async () => {
    const data = await openData(good, builtinTokenizers);
    expect(data.train.length).toBe(data.meta.train.tokens);
    expect(data.validation.length).toBe(data.meta.validation.tokens);
    expect(await dataDirStatus(good)).toEqual({ kind: 'data' });
    data.close();
  });

  test.each([
    [
      'no-meta',
      (d: string) => rmSync(join(d, 'meta.json')),
      /data folder "[^"]*no-meta" has no meta\.json: it is not a folder ganglion prepare wrote/,
    ],
    ['no-train', (d: string) => rmSync(join(d, 'train.bin')), /no-train\/train\.bin: file is missing/],
    ['no-val', (d: string) => rmSync(join(d, 'val.bin')), /no-val\/val\.bin: file is missing/],
    [
      'no-tokenizer',
      (d: string) => rmSync(join(d, 'tokenizer.json')),
      /no-tokenizer\/tokenizer\.json: file is missing/,
    ],
    [
      'short-train',
      (d: string) => truncateSync(join(d, 'train.bin'), 10),
      /short-train\/train\.bin: 10 bytes, but .*meta\.json says \d+ uint16 tokens \(\d+ bytes\); prepare the data again/,
    ],
    ['bad-meta', (d: string) => writeFileSync(join(d, 'meta.json'), '{ nope'), /bad-meta\/meta\.json: not valid JSON/],
    [
      'checkpoint-meta',
      (d: string) => writeFileSync(join(d, 'meta.json'), '{"format":"ganglion-checkpoint"}'),
      /meta\.json: format "ganglion-checkpoint", expected "ganglion-data"/,
    ],
    [
      'bad-tokenizer',
      (d: string) => writeFileSync(join(d, 'tokenizer.json'), '{"kind":"mystery"}'),
      /bad-tokenizer\/tokenizer\.json: not a tokenizer any plugin reads \(char, word, bpe, hf\)/,
    ],
  ])('%s: one error naming the file', async (name, change, message) => {
    const dir = broken(name, change);
    await expect(openData(dir, builtinTokenizers)).rejects.toThrow(message);
  });

  test('a missing folder, and a file given as the folder', async () => {
    await expect(openData(join(root, 'nowhere'), builtinTokenizers)).rejects.toThrow(
      /data folder "[^"]*nowhere": no such folder; make one with ganglion prepare/,
    );
    await expect(openData(join(root, 'corpus.txt'), builtinTokenizers)).rejects.toThrow(/is a file; give the folder/);
  });
});

describe('a large token file', () => {
  test('50M uint16 tokens train by window: the windows equal the ids written, and memory stays bounded', async () => {
    const dir = join(root, 'large');
    mkdirSync(dir);
    const vocab = 1000;
    const N = 50_000_000;
    /** The id at position i: a hash, so a window read from the wrong place shows. */
    const idAt = (i: number) => {
      let h = i ^ (i >>> 16);
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      return ((h ^ (h >>> 16)) >>> 0) % vocab;
    };
    const fd = openSync(join(dir, 'train.bin'), 'w');
    const chunk = new Uint16Array(1 << 20);
    for (let start = 0; start < N; start += chunk.length) {
      const n = Math.min(chunk.length, N - start);
      for (let i = 0; i < n; i++) chunk[i] = idAt(start + i);
      writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
    }
    closeSync(fd);
    writeFileSync(
      join(dir, 'val.bin'),
      new Uint8Array(new Uint16Array(Array.from({ length: 1000 }, (_, i) => idAt(i))).buffer),
    );
    const chars = Array.from({ length: vocab }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(CharTokenizer.fromText(chars).toJSON()));
    const split = (file: string, tokens: number) => ({
      file,
      tokens,
      characters: tokens,
      bytes: 3 * tokens,
      documents: 1,
      unknownTokens: 0,
      sha256: '',
    });
    writeFileSync(
      join(dir, 'meta.json'),
      JSON.stringify({
        format: 'ganglion-data',
        version: 1,
        dtype: 'uint16',
        vocabSize: vocab,
        tokenizer: { kind: 'char', file: 'tokenizer.json' },
        train: split('train.bin', N),
        validation: split('val.bin', 1000),
      }),
    );

    const before = process.memoryUsage().rss;
    const data = await openData(dir, builtinTokenizers);
    expect(data.train.length).toBe(N);
    const seqLen = 256;
    const batchSize = 16;
    const backend = new ReferenceBackend();
    const windows = lmDataset(data.train, { seqLen, batchSize, shuffle: true, seed: 3, backend });
    expect(windows.windows).toBe(Math.floor((N - 1) / seqLen));
    let peak = before;
    let batches = 0;
    let checked = 0;
    for (const batch of windows.batches(0)) {
      const ids = batch.ids.toArray();
      const labels = batch.labels.toArray();
      // Each row is a window starting at a multiple of seqLen: find which from its first ids, then check every id.
      for (let r = 0; r < batchSize && batches < 4; r++) {
        const row = ids.slice(r * seqLen, (r + 1) * seqLen);
        let w = -1;
        for (let k = 0; k < windows.windows && w < 0; k++)
          if (idAt(k * seqLen) === row[0] && idAt(k * seqLen + 1) === row[1] && idAt(k * seqLen + 2) === row[2]) w = k;
        {
          expect(w).toBeGreaterThanOrEqual(0);
          expect(row).toEqual(Array.from({ length: seqLen }, (_, i) => idAt(w * seqLen + i)));
          expect(labels.slice(r * seqLen, (r + 1) * seqLen)).toEqual(
            Array.from({ length: seqLen }, (_, i) => idAt(w * seqLen + i + 1)),
          );
          checked++;
        }
      }
      batch.ids.dispose();
      batch.labels.dispose();
      peak = Math.max(peak, process.memoryUsage().rss);
      if (++batches === 400) break;
    }
    data.close();
    expect(checked).toBe(4 * batchSize);
    // The file is 100 MB; reading 400 batches by window costs a few MB, never the file.
    expect(peak - before).toBeLessThan(64 * 2 ** 20);
  });
});
