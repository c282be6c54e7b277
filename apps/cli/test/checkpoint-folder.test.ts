// What `ganglion train` may write, run as the built binary the way a user runs it: folders it did
// not write are refused untouched (every file's bytes checked), saves keep the user's files, an
// existing checkpoint needs --resume or --overwrite, an interrupted save (of this format or the
// old whole-directory swap) resumes from the last complete save and is never deleted, one
// training per folder (a lock, stale locks taken over), resume refuses settings that disagree,
// the tokenizer is checked against the model, and bad --out paths are one clear line.
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MALLOC_TUNABLES } from '../src/malloc-tunables.js';
import { BIN, expectOneLineError, TINY_TRAIN, folderWithCorpus, runCli, snapshot } from './run-cli.js';

let dir: string;
const train = (args: string[]) => runCli(['train', ...TINY_TRAIN, ...args], dir);
const exists = (p: string) =>
  stat(join(dir, p)).then(
    () => true,
    () => false,
  );

/** A trained checkpoint at `out` (2 steps), made once and copied where a test needs one. */
const seedCheckpoint = async (out: string) => {
  await cp(join(dir, 'trained'), join(dir, out), { recursive: true });
};

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-folder-');
  const r = await train(['--steps', '2', '--out', 'trained']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ganglion train writes only where it may', () => {
  test('a folder with a foreign meta.json and other files is refused before training, every byte untouched', async () => {
    await mkdir(join(dir, 'proj/src'), { recursive: true });
    await writeFile(join(dir, 'proj/meta.json'), '{"name":"my-project"}');
    await writeFile(join(dir, 'proj/NOTES.txt'), 'do not lose me');
    await writeFile(join(dir, 'proj/src/index.js'), 'console.log(1)');
    const before = await snapshot(join(dir, 'proj'));
    for (const extra of [[], ['--overwrite'], ['--resume']]) {
      const r = await train(['--steps', '2', '--out', 'proj', ...extra]);
      expectOneLineError(
        r,
        2,
        new RegExp(
          `${join(dir, 'proj')}: the folder is not a Ganglion checkpoint \\(its meta\\.json was not written by Ganglion\\); refusing to write into it`,
        ),
      );
      expect(r.stdout).toBe('');
      expect(await snapshot(join(dir, 'proj'))).toEqual(before);
    }
    // Files but no meta.json: also not ours.
    await mkdir(join(dir, 'docs'));
    await writeFile(join(dir, 'docs/a.txt'), 'a');
    expectOneLineError(
      await train(['--steps', '2', '--out', 'docs']),
      2,
      /docs: the folder is not a Ganglion checkpoint \(it holds files \("a\.txt"\) but no Ganglion meta\.json\)/,
    );
    expect(await readdir(join(dir, 'docs'))).toEqual(['a.txt']);
  });

  test("an existing checkpoint needs --resume or --overwrite; a save keeps every file that is not the checkpoint's", async () => {
    await seedCheckpoint('keep');
    await writeFile(join(dir, 'keep/NOTES.txt'), 'my notes');
    await writeFile(join(dir, 'keep/model.onnx'), Buffer.from([8, 7, 0, 1]));
    const before = await snapshot(join(dir, 'keep'));
    expectOneLineError(
      await train(['--steps', '2', '--out', 'keep']),
      2,
      /keep already holds a checkpoint; pass --resume to continue it, or --overwrite to replace it/,
    );
    expect(await snapshot(join(dir, 'keep'))).toEqual(before);

    const resumed = await train(['--steps', '4', '--out', 'keep', '--resume', '--json']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('resuming');
    const overwritten = await train(['--steps', '1', '--out', 'keep', '--overwrite', '--json']);
    expect(overwritten.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'keep/meta.json'), 'utf8')).step).toBe(1);
    const after = await snapshot(join(dir, 'keep'));
    expect(after['NOTES.txt']).toBe(before['NOTES.txt']);
    expect(after['model.onnx']).toBe(before['model.onnx']);
    expect((await readdir(join(dir, 'keep'))).sort()).toEqual([
      '.ganglion',
      'NOTES.txt',
      'graph.json',
      'loss.png',
      'loss.svg',
      'meta.json',
      'model.onnx',
      'optimizer.safetensors',
      'tokenizer.json',
      'weights.safetensors',
    ]);
  });

  test('resume after a save torn mid-way continues from the newest complete save, which nothing deletes', async () => {
    // Step 2 in `torn`; then step 4 made in a copy; then the state a crash while replacing the
    // top-level files leaves: step 4's weights and generation, step 2's meta.json.
    await seedCheckpoint('torn');
    await seedCheckpoint('torn4');
    expect((await train(['--steps', '4', '--out', 'torn4', '--resume'])).code).toBe(0);
    const [gen4] = (await readdir(join(dir, 'torn4/.ganglion'))).filter((n) => /^g\d+$/.test(n));
    await cp(join(dir, 'torn4/.ganglion', gen4), join(dir, 'torn/.ganglion', gen4), { recursive: true });
    await cp(join(dir, 'torn4/weights.safetensors'), join(dir, 'torn/weights.safetensors.new'));
    await rename(join(dir, 'torn/weights.safetensors.new'), join(dir, 'torn/weights.safetensors'));
    expect(JSON.parse(await readFile(join(dir, 'torn/meta.json'), 'utf8')).step).toBe(2);

    const inspect = await runCli(['inspect', 'torn'], dir);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/step 4, epoch/);
    expect(inspect.stderr).toMatch(
      /^ganglion: note: .*weights\.safetensors: its sha256 does not match meta\.json .*read the last complete save instead, .*\.ganglion\/g\d+\n$/,
    );

    const r = await train(['--steps', '6', '--out', 'torn', '--resume', '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"resuming .*torn at step 4"/);
    expect(JSON.parse(await readFile(join(dir, 'torn/meta.json'), 'utf8')).step).toBe(6);
  });

  test('resume after an old-format save died between its two renames: <out>.old-* is used, and kept', async () => {
    // The old format: no manifest, no .ganglion; a crash left only `legacy.old-<pid>-<hex>`.
    await seedCheckpoint('legacy-src');
    const meta = JSON.parse(await readFile(join(dir, 'legacy-src/meta.json'), 'utf8'));
    delete meta.format;
    delete meta.files;
    meta.formatVersion = 1;
    await rm(join(dir, 'legacy-src/.ganglion'), { recursive: true });
    await rm(join(dir, 'legacy-src/meta.json'));
    await writeFile(join(dir, 'legacy-src/meta.json'), JSON.stringify(meta));
    await rename(join(dir, 'legacy-src'), join(dir, 'legacy.old-4242-abcdef01'));
    const old = await snapshot(join(dir, 'legacy.old-4242-abcdef01'));

    const r = await train(['--steps', '4', '--out', 'legacy', '--resume', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"resuming .*legacy at step 2"/);
    expect(JSON.parse(await readFile(join(dir, 'legacy/meta.json'), 'utf8')).step).toBe(4);
    expect(await snapshot(join(dir, 'legacy.old-4242-abcdef01'))).toEqual(old);
  });

  test("two trainings on one folder: the second is refused while the first runs; a dead one's lock is taken over", async () => {
    const first = spawn(
      process.execPath,
      [BIN, 'train', ...TINY_TRAIN, '--steps', '100000', '--time-budget', '60', '--out', 'busy'],
      // Tuned already, so the training runs in this very process (no child: src/malloc-tunables.ts).
      { cwd: dir, stdio: 'ignore', env: { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES } },
    );
    try {
      const lock = join(dir, 'busy/.ganglion/lock');
      for (let i = 0; i < 200 && !(await exists('busy/.ganglion/lock')); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: first.pid, host: hostname() });
      const second = await train(['--steps', '2', '--out', 'busy', '--overwrite']);
      expectOneLineError(
        second,
        2,
        new RegExp(
          `busy is in use: process ${first.pid} has been writing there since .*; wait for it, or choose another --out`,
        ),
      );
    } finally {
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
    }
    // The killed process left its lock behind: stale, so the next run takes it over.
    expect(await exists('busy/.ganglion/lock')).toBe(true);
    const third = await train(['--steps', '2', '--out', 'busy', '--overwrite']);
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    expect(await exists('busy/.ganglion/lock')).toBe(false);
  });
});

describe('resume refuses what would silently train something else', () => {
  test.each([
    [
      'a different --preset',
      ['--preset', 'char-gpt'],
      /--preset "char-gpt" differs from the checkpoint's preset "char-lstm-small"/,
    ],
    ['a different --batch', ['--batch', '8'], /--batch 8 differs from the checkpoint's batchSize 4/],
    ['a different --seq-len', ['--seq-len', '16'], /--seq-len 16 differs from the checkpoint's seqLen 12/],
    ['a different --seed', ['--seed', '9'], /--seed 9 differs from the checkpoint's seed 1/],
    [
      'a different corpus',
      ['--corpus', 'other.txt'],
      /the corpus text differs from the one the checkpoint was trained on/,
    ],
  ])('%s', async (_, flags, message) => {
    await writeFile(
      join(dir, 'other.txt'),
      'A completely different text, about whales and the sea and the men who hunt them. '.repeat(6),
    );
    await seedCheckpoint('mismatch');
    const before = await snapshot(join(dir, 'mismatch'));
    const args = [...TINY_TRAIN];
    for (let i = 0; i < flags.length; i += 2) args[args.indexOf(flags[i]) + 1] = flags[i + 1];
    const r = await runCli(['train', ...args, '--steps', '4', '--out', 'mismatch', '--resume'], dir);
    expectOneLineError(r, 2, new RegExp(`--resume: .*${message.source}.*mismatch/meta\\.json`));
    expect(await snapshot(join(dir, 'mismatch'))).toEqual(before);
    await rm(join(dir, 'mismatch'), { recursive: true });
  });

  test("without flags, resume continues with the checkpoint's own settings", async () => {
    await seedCheckpoint('bare');
    const r = await runCli(
      [
        'train',
        '--backend',
        'reference',
        '--corpus',
        'corpus.txt',
        '--steps',
        '3',
        '--out',
        'bare',
        '--resume',
        '--json',
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const meta = JSON.parse(await readFile(join(dir, 'bare/meta.json'), 'utf8'));
    expect(meta).toMatchObject({ step: 3, preset: 'char-lstm-small', batchSize: 4, seqLen: 12, seed: 1 });
  });

  test("--resume without a checkpoint is refused and creates nothing; --steps at or below the checkpoint's step has nothing to do", async () => {
    expectOneLineError(
      await train(['--steps', '2', '--out', 'nothing-here', '--resume']),
      2,
      /--resume: .*nothing-here holds no checkpoint to resume; train without --resume to start one/,
    );
    expect(await exists('nothing-here')).toBe(false);
    await seedCheckpoint('done');
    const before = await snapshot(join(dir, 'done'));
    for (const steps of ['1', '2']) {
      const r = await train(['--steps', steps, '--out', 'done', '--resume']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`nothing to do: ${join(dir, 'done')} is at step 2 and --steps is ${steps}\n`);
    }
    expect(await snapshot(join(dir, 'done'))).toEqual(before);
  });
});

describe('loading checks the tokenizer against the model', () => {
  test('a vocabulary that does not fit the Embedding and the head is one line naming the file and both sizes', async () => {
    await seedCheckpoint('vocab');
    const metaPath = join(dir, 'vocab/meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    // An inline character tokenizer (as older checkpoints hold it) one character longer than the model.
    const tokenizer = JSON.parse(await readFile(join(dir, 'vocab/tokenizer.json'), 'utf8'));
    const size = tokenizer.vocab.length;
    meta.tokenizer = { ...tokenizer, vocab: [...tokenizer.vocab, '§'] };
    await writeFile(metaPath, JSON.stringify(meta));
    for (const command of [
      ['generate', 'vocab', '--backend', 'reference'],
      ['inspect', 'vocab'],
      ['export', 'vocab', '--out', 'v.onnx'],
    ]) {
      const r = await runCli(command, dir);
      expectOneLineError(
        r,
        1,
        new RegExp(
          `CheckpointError: .*vocab/meta\\.json: the tokenizer has ${size + 1} tokens, but the "logits" output of .*graph\\.json has ${size}`,
        ),
      );
    }
    expect(await exists('v.onnx')).toBe(false);
  });
});

describe('--out that cannot be a checkpoint folder: one line, nothing written, no hang', () => {
  test.each([
    ['a file', 'corpus.txt', /--out .*corpus\.txt: is a file, not a checkpoint folder/],
    ['under a file', 'corpus.txt/sub', /--out .*corpus\.txt\/sub: a part of this path is a file, not a folder/],
    ['under /proc', '/proc/ganglion-out', /--out \/proc\/ganglion-out: the folder cannot be created there/],
    ['not writable', '/sys/ganglion-out', /--out \/sys\/ganglion-out: it is not writable/],
  ])('%s', async (_, out, message) => {
    const before = await readFile(join(dir, 'corpus.txt'));
    const r = await runCli(['train', ...TINY_TRAIN, '--steps', '2', '--out', out], dir, { timeoutMs: 30_000 });
    expectOneLineError(r, 2, message);
    expect(await readFile(join(dir, 'corpus.txt'))).toEqual(before);
  });
});
