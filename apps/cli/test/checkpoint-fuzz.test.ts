// Tampered checkpoints, fed to the built binary: truncated files, flipped bytes and edited JSON
// (seeded, so every run tampers the same way). Whatever the damage, `inspect`, `generate` and
// `train --resume` exit with 0, 1 or 2; a failure is one line on stderr without a stack trace
// naming a file of the checkpoint; and the checkpoint's bytes are unchanged afterwards. Damage to
// a checksummed file (weights, optimizer state, graph) must always fail, unless only the top-level
// copy was replaced: then the last complete save in .ganglion loads, with a note saying so.
import { createHash } from 'node:crypto';
import { cp, link, readFile, readdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { uniformAt } from '@ganglion/core';
import { expectOneLineError, TINY_TRAIN, folderWithCorpus, runCli, snapshot } from './run-cli.js';

let dir: string;

/** Core's counter-based generator: the cases below are the same on every run. */
const rng = (seed: number): (() => number) => {
  let i = 0;
  return () => uniformAt(seed, i++);
};

type Tamper = (ckpt: string, random: () => number) => Promise<void>;

const CHECKSUMMED = ['weights.safetensors', 'optimizer.safetensors', 'graph.json'];

/** Write in place (same inode), as a disk error or an editor that truncates would. */
const flipByte =
  (file: string): Tamper =>
  async (ckpt, random) => {
    const bytes = await readFile(join(ckpt, file));
    const i = Math.floor(random() * bytes.length);
    bytes[i] ^= 1 << Math.floor(random() * 8);
    await writeFile(join(ckpt, file), bytes);
  };
const cut =
  (file: string): Tamper =>
  async (ckpt, random) => {
    const size = (await readFile(join(ckpt, file))).length;
    await truncate(join(ckpt, file), Math.floor(random() * size));
  };
// The edits reach into parsed JSON of any shape to break it; typing each path would only repeat the format.
const editJSON =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (file: string, edit: (json: Record<string, any>) => void): Tamper =>
    async (ckpt) => {
      const json = JSON.parse(await readFile(join(ckpt, file), 'utf8'));
      edit(json);
      const text = JSON.stringify(json);
      await writeFile(join(ckpt, file), text);
      if (file !== 'meta.json') {
        // Keep the manifest in step, so the checks behind the checksum speak.
        const meta = JSON.parse(await readFile(join(ckpt, 'meta.json'), 'utf8'));
        meta.files[file] = { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
        await writeFile(join(ckpt, 'meta.json'), JSON.stringify(meta));
      }
    };
const removeEverywhere =
  (file: string): Tamper =>
  async (ckpt) => {
    await rm(join(ckpt, file));
    for (const g of await readdir(join(ckpt, '.ganglion'))) await rm(join(ckpt, '.ganglion', g, file), { force: true });
  };

/** A new file in its place (another inode), as `cp` or `mv` would: the saved copy is intact. */
const replaceTopLevel =
  (file: string): Tamper =>
  async (ckpt, random) => {
    const bytes = await readFile(join(ckpt, file));
    bytes[Math.floor(random() * bytes.length)] ^= 0xff;
    await writeFile(join(ckpt, `${file}.new`), bytes);
    await rename(join(ckpt, `${file}.new`), join(ckpt, file));
  };

const CASES: [string, Tamper, 'fails' | 'may load' | 'recovers'][] = [
  ['replace weights.safetensors with a damaged copy', replaceTopLevel('weights.safetensors'), 'recovers'],
  ['replace graph.json with a damaged copy', replaceTopLevel('graph.json'), 'recovers'],
  ...CHECKSUMMED.flatMap(
    (f) =>
      [
        [`flip a byte of ${f} (a)`, flipByte(f), 'fails'],
        [`flip a byte of ${f} (b)`, flipByte(f), 'fails'],
        [`truncate ${f}`, cut(f), 'fails'],
        [`delete ${f} and its saved copies`, removeEverywhere(f), 'fails'],
      ] as [string, Tamper, 'fails'][],
  ),
  ['flip a byte of meta.json (a)', flipByte('meta.json'), 'may load'],
  ['flip a byte of meta.json (b)', flipByte('meta.json'), 'may load'],
  ['truncate meta.json', cut('meta.json'), 'fails'],
  ['meta.json: step -1', editJSON('meta.json', (m) => (m.step = -1)), 'fails'],
  ['meta.json: step "ten"', editJSON('meta.json', (m) => (m.step = 'ten')), 'fails'],
  ['meta.json: seqLen 0', editJSON('meta.json', (m) => (m.seqLen = 0)), 'fails'],
  ['meta.json: formatVersion 99', editJSON('meta.json', (m) => (m.formatVersion = 99)), 'fails'],
  ['meta.json: no format', editJSON('meta.json', (m) => delete m.format), 'fails'],
  ['meta.json: tokenizer is a number', editJSON('meta.json', (m) => (m.tokenizer = 5)), 'fails'],
  [
    'meta.json: an inline tokenizer with a character twice',
    editJSON('meta.json', (m) => (m.tokenizer = { kind: 'char', vocab: ['a', 'a'] })),
    'fails',
  ],
  [
    'meta.json: an inline tokenizer narrower than the model',
    editJSON('meta.json', (m) => (m.tokenizer = { kind: 'char', vocab: ['a'] })),
    'fails',
  ],
  ['meta.json: the manifest is a list', editJSON('meta.json', (m) => (m.files = [])), 'fails'],
  [
    'meta.json: a wrong size in the manifest',
    editJSON('meta.json', (m) => (m.files['weights.safetensors'].bytes += 1)),
    'fails',
  ],
  ['meta.json: optimizer name 42', editJSON('meta.json', (m) => (m.optimizer.name = 42)), 'fails'],
  ['meta.json: optimizer step NaN-ish', editJSON('meta.json', (m) => (m.optimizer.meta.step = -2)), 'fails'],
  ['graph.json: an unknown layer kind', editJSON('graph.json', (g) => (g.nodes[1].kind = 'Nope')), 'fails'],
  ['graph.json: negative units', editJSON('graph.json', (g) => (g.nodes[1].config.units = -1)), 'fails'],
  ['graph.json: a node removed', editJSON('graph.json', (g) => g.nodes.splice(1, 1)), 'fails'],
  ['graph.json: not a graph', editJSON('graph.json', (g) => Object.keys(g).forEach((k) => delete g[k])), 'fails'],
];

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-fuzz-');
  const r = await runCli(['train', ...TINY_TRAIN, '--steps', '2', '--out', 'base'], dir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tampered checkpoints: a clear line, a non-zero exit where the damage is real, and nothing changed', () => {
  test.concurrent.each(CASES.map(([name, tamper, expect], i) => ({ name, tamper, expected: expect, i })))(
    '$name',
    async ({ tamper, expected, i }) => {
      const ckpt = join(dir, `case-${i}`);
      await cp(join(dir, 'base'), ckpt, { recursive: true });
      // cp made copies: link the saved generation to the top-level files again, as a save leaves them.
      for (const g of (await readdir(join(ckpt, '.ganglion'))).filter((n) => /^g\d+$/.test(n))) {
        for (const f of await readdir(join(ckpt, '.ganglion', g))) {
          await rm(join(ckpt, '.ganglion', g, f));
          await link(join(ckpt, f), join(ckpt, '.ganglion', g, f));
        }
      }
      await tamper(ckpt, rng(1000 + i));
      const before = await snapshot(ckpt);
      // Every case runs `inspect`; every fourth also `generate`, and some failing ones `train --resume`.
      const commands = [['inspect', ckpt]];
      if (i % 4 === 0)
        commands.push(['generate', ckpt, '--backend', 'reference', '--max-tokens', '3', '--prompt', 'it']);
      if (expected === 'fails' && i % 4 === 1)
        commands.push(['train', ...TINY_TRAIN, '--steps', '4', '--out', ckpt, '--resume']);
      for (const command of commands) {
        const r = await runCli(command, dir, { timeoutMs: 60_000 });
        if (expected === 'recovers') {
          expect(r.code, r.stderr).toBe(0);
          expect(r.stderr).toMatch(
            /^ganglion: note: .* does not match meta\.json .*; read the last complete save instead, .*\.ganglion\/g1\n$/,
          );
        } else if (expected === 'fails' || r.code !== 0) {
          expect([1, 2], r.stderr).toContain(r.code);
          expectOneLineError(r, r.code, /.+/);
          expect(r.stderr).toContain(ckpt);
        }
        expect(await snapshot(ckpt), command[0]).toEqual(before);
      }
    },
  );
});
