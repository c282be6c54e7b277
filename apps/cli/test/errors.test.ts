// Careless and hostile inputs, run through the built binary as a user would: each fails with exit
// status 1 or 2 and exactly one line on stderr (no stack), says what is wrong, and writes nothing
// (every file of the working folder, checkpoint included, keeps its bytes). Covers export onto a
// checkpoint's own files, a failed export, what `run` checks in an .onnx file (format, metadata,
// logits width, onnxruntime's own errors, external data), negative and huge numeric flags, /proc
// targets, and the npm warning every `npx ganglion` printed.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKPOINT_FILES } from '@ganglion/core';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { errorLine, main } from '../src/cli.js';
import { BIN, type CliResult, expectOneLineError, runCli, snapshot, TINY_TRAIN } from './run-cli.js';

const { onnx } = onnxProto;
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A program other than the binary itself (bash, npx), with the same exit-code convention. */
function spawn(file: string, args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, FORCE_COLOR: '0' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 124) : 0, stdout, stderr });
      },
    );
  });
}
const run = (args: string[]) => runCli(args, dir, { env: { GANGLION_DEBUG: '' } });
const literal = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** Exit status `code`, one stderr line matching `message` (a string: contained as is), no stack frame. */
function expectOneLine(r: CliResult, code: number, message: RegExp | string): void {
  expectOneLineError(r, code, typeof message === 'string' ? literal(message) : message);
  expect(r.stderr).not.toContain('    at ');
}

/** Run, and check that the working folder is byte for byte what it was. */
async function refused(args: string[], code: number, message: RegExp | string): Promise<CliResult> {
  return (await allRefused([[args, message]], code))[0];
}

/** Several refusals run side by side (each one line, `code`), with nothing written by any. */
async function allRefused(
  cases: readonly (readonly [string[], RegExp | string])[],
  code: number,
): Promise<CliResult[]> {
  const before = await snapshot(dir);
  const results = await Promise.all(cases.map(([args]) => run(args)));
  results.forEach((r, i) => expectOneLine(r, code, cases[i][1]));
  expect(await snapshot(dir)).toEqual(before);
  return results;
}

/** A copy of model.onnx with `edit` applied to its ModelProto. */
async function tampered(name: string, edit: (m: onnxProto.onnx.ModelProto) => void): Promise<string> {
  const m = onnx.ModelProto.decode(await readFile(join(dir, 'model.onnx')));
  edit(m);
  await writeFile(join(dir, name), onnx.ModelProto.encode(m).finish());
  return name;
}
const setMeta = (m: onnxProto.onnx.ModelProto, key: string, value: string) => {
  m.metadataProps.find((p) => p.key === key)!.value = value;
};
const getMeta = (m: onnxProto.onnx.ModelProto, key: string) => m.metadataProps.find((p) => p.key === key)?.value;

let dir: string;
/** Characters in the export's vocabulary (its logits width). */
let vocabSize: number;
const GREEDY = ['--prompt', 'it was', '--max-tokens', '20', '--temperature', '0'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-errors-'));
  const text = 'It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(8);
  await writeFile(join(dir, 'corpus.txt'), text);
  const train = await run(['train', ...TINY_TRAIN, '--steps', '3', '--out', 'ck']);
  expect(train.code, train.stderr).toBe(0);
  const exp = await run(['export', 'ck', '--out', 'model.onnx', '--stateful']);
  expect(exp.code, exp.stderr).toBe(0);
  // The export's vocabulary: every character of the corpus (and an unknown-character token, if any).
  const m = onnx.ModelProto.decode(await readFile(join(dir, 'model.onnx')));
  vocabSize = JSON.parse(getMeta(m, 'ganglion.tokenizer')!).vocab.length;
  expect(vocabSize).toBeGreaterThanOrEqual(new Set(text).size);
  expect(exp.stdout).toContain(`logits [batch, time, ${vocabSize}]`);
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('export never writes over a checkpoint, and a failed export leaves nothing', () => {
  test('--out onto any file a checkpoint owns is refused before anything is read or written', async () => {
    const owned = [...Object.values(CHECKPOINT_FILES), join('.ganglion', 'x.onnx')].map((name) => join('ck', name));
    await allRefused(
      owned.map((out) => [['export', 'ck', '--out', out], `ganglion export: --out "${out}": is `] as const),
      2,
    );
    await refused(
      ['export', 'ck', '--out', join('ck', 'weights.safetensors')],
      2,
      /is the checkpoint's own weights\.safetensors in ".*ck"; export to another file/,
    );
  }, 120_000);

  test('--out that is an existing folder is refused', async () => {
    await mkdir(join(dir, 'out-folder'));
    await writeFile(join(dir, 'out-folder', 'notes.txt'), 'mine');
    await refused(['export', 'ck', '--out', 'out-folder'], 2, '--out "out-folder": is a folder');
  }, 60_000);

  test('an export that fails mid-write (file size limit) leaves no temporary file', async () => {
    await mkdir(join(dir, 'limited'));
    const before = await snapshot(dir);
    // SIGXFSZ ignored: a write past `ulimit -f` (40 KiB; the model is larger) fails with EFBIG.
    const r = await spawn(
      'bash',
      [
        '-c',
        'trap "" XFSZ; ulimit -f 40; exec "$0" "$@"',
        process.execPath,
        BIN,
        'export',
        'ck',
        '--out',
        join('limited', 'm.onnx'),
      ],
      dir,
    );
    expectOneLine(
      r,
      1,
      /ExportError: cannot write the ONNX model ".*m\.onnx": the file is larger than this process may write/,
    );
    expect(await snapshot(dir)).toEqual(before);
    expect(await readdir(join(dir, 'limited'))).toEqual([]);
  }, 60_000);
});

describe('run checks what the file claims', () => {
  test('the logits width must equal the vocabulary size in the metadata', async () => {
    const file = await tampered('narrow-vocab.onnx', (m) => {
      const vocab = JSON.parse(getMeta(m, 'ganglion.tokenizer')!);
      setMeta(m, 'ganglion.tokenizer', JSON.stringify({ ...vocab, vocab: vocab.vocab.slice(0, -1) }));
    });
    const r = await refused(
      ['run', file, ...GREEDY],
      1,
      `ExportError: "${file}": output "logits" is ${vocabSize} wide, but the vocabulary in its metadata has ${vocabSize - 1} tokens`,
    );
    expect(r.stdout).toBe('');
  }, 60_000);

  test('a file that is not ONNX says so (text, empty)', async () => {
    await writeFile(join(dir, 'empty.onnx'), '');
    await allRefused(
      [
        [['run', 'corpus.txt'], /GraphError: "corpus\.txt" is not an ONNX model/],
        [['run', 'empty.onnx'], 'GraphError: "empty.onnx" is not an ONNX model (no graph)'],
      ],
      1,
    );
  }, 60_000);

  test('a number in the metadata that is not one is an error naming the key and the value', async () => {
    const file = await tampered('bad-positions.onnx', (m) =>
      m.metadataProps.push(onnx.StringStringEntryProto.create({ key: 'ganglion.max_positions', value: 'lots' })),
    );
    await refused(
      ['run', file, ...GREEDY],
      1,
      `ExportError: "${file}": metadata "ganglion.max_positions" is "lots", expected a whole number >= 1`,
    );
  }, 60_000);

  test('invalid JSON in ganglion.tokenizer or ganglion.state: one line naming the key', async () => {
    for (const key of ['ganglion.tokenizer', 'ganglion.state']) {
      const file = await tampered(`bad-${key}.onnx`, (m) => setMeta(m, key, '{"kind": "char", '));
      await refused(
        ['run', file, ...GREEDY],
        1,
        new RegExp(
          `ExportError: "${file.replace(/\./g, '\\.')}": metadata "${key.replace('.', '\\.')}" is not valid JSON`,
        ),
      );
    }
  }, 60_000);
});

describe('every error is one line', () => {
  test('export into a missing folder', async () => {
    await refused(
      ['export', 'ck', '--out', join('no-such-folder', 'm.onnx')],
      2,
      /--out ".*m\.onnx": the folder ".*no-such-folder" does not exist/,
    );
  }, 60_000);

  test('an ONNX file without a logits output', async () => {
    const file = await tampered('no-logits.onnx', (m) => {
      for (const n of m.graph!.node!) n.output = n.output!.map((o) => (o === 'logits' ? 'scores' : o));
      for (const o of m.graph!.output!) if (o.name === 'logits') o.name = 'scores';
    });
    await refused(
      ['run', file, ...GREEDY],
      1,
      `ExportError: "${file}": the model has no "logits" output (outputs: scores, state_out.lstm1.h, state_out.lstm1.c)`,
    );
  }, 60_000);

  test("onnxruntime's own errors, loading and running, name the file", async () => {
    const unloadable = await tampered('unknown-op.onnx', (m) => {
      m.graph!.node![0].opType = 'NoSuchOp';
    });
    await refused(
      ['run', unloadable, ...GREEDY],
      1,
      new RegExp(`BackendError: "${unloadable}": onnxruntime cannot load the model: .*NoSuchOp`),
    );
    // The state metadata promises 64 units where the model has 128: onnxruntime refuses the feed.
    const unrunnable = await tampered('wrong-state.onnx', (m) => {
      const state = JSON.parse(getMeta(m, 'ganglion.state')!);
      setMeta(
        m,
        'ganglion.state',
        JSON.stringify(state.map((b: { shape: unknown[] }) => ({ ...b, shape: ['batch', 64] }))),
      );
    });
    await refused(
      ['run', unrunnable, ...GREEDY],
      1,
      new RegExp(`BackendError: "${unrunnable}": onnxruntime failed to run the model: .*state_in\\.lstm1`),
    );
  }, 60_000);

  test('a negative number after a space gets the range error, for each command', async () => {
    const cases: [string[], string][] = [
      [['train', '--steps', '-5'], '--steps: expected a whole number >= 1, got "-5"'],
      [['train', '--lr', '-0.5'], '--lr: expected a number > 0, got "-0.5"'],
      [['generate', 'ck', '--max-tokens', '-5'], '--max-tokens: expected a whole number >= 1, got "-5"'],
      [['run', 'model.onnx', '--top-k', '-5'], '--top-k: expected a whole number >= 1, got "-5"'],
      [
        ['export', 'ck', '--out', 'x.onnx', '--opset', '-5'],
        '--opset: expected a whole number >= 17 and <= 26, got "-5"',
      ],
      [['demo', '--time-budget', '-5'], '--time-budget: expected a number > 0, got "-5"'],
    ];
    await allRefused(
      cases.map(([args, message]) => [args, `ganglion ${args[0]}: ${message}`] as const),
      2,
    );
  }, 120_000);

  test('seeds past 2^53 - 1 are refused, naming the flag', async () => {
    const huge = String(2 ** 53 + 1); // Number() would silently round it to 2^53
    const commands = [['train'], ['generate', 'ck'], ['run', 'model.onnx']];
    await allRefused(
      commands.map(
        (c) => [[...c, '--seed', huge], `ganglion ${c[0]}: --seed: ${huge} is beyond ±${MAX_SAFE} (2^53 - 1)`] as const,
      ),
      2,
    );
    // The largest exact one is accepted.
    const ok = await run(['run', 'model.onnx', ...GREEDY, '--seed', String(MAX_SAFE)]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 120_000);

  test('--out under /proc is refused at once, without hanging', async () => {
    const started = Date.now();
    await allRefused(
      ['/proc/self/mem', '/proc/1/x.onnx'].map(
        (out) => [['export', 'ck', '--out', out], /is a system folder, not a place for a model/] as const,
      ),
      2,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 120_000);

  test("an error that is not Ganglion's is one line, its message only", async () => {
    const err: string[] = [];
    const throwing = {
      write: () => {
        throw new TypeError('boom\n  second line');
      },
    } as unknown as NodeJS.WriteStream;
    const code = await main(['run', '--help'], {
      stdout: throwing,
      stderr: { write: (s: string) => err.push(s) } as unknown as NodeJS.WriteStream,
    });
    expect(code).toBe(1);
    expect(err.join('')).toBe('ganglion run: unexpected error: boom second line (GANGLION_DEBUG=1 shows where)\n');
    expect(errorLine('x', new RangeError('Invalid array length'))).toBe(
      'ganglion x: unexpected error: Invalid array length (GANGLION_DEBUG=1 shows where)',
    );
  });
});

describe('run reads no file a model names, except beside it when allowed', () => {
  test('external data is refused; allowed, it is read from beside the model only', async () => {
    // The embedding's values moved to an external file named "secret.bin", first put in the current
    // folder: given the model's bytes, onnxruntime would read it from there.
    await mkdir(join(dir, 'models'));
    let moved: Uint8Array = new Uint8Array();
    const file = join('models', 'external.onnx');
    await tampered(file, (m) => {
      const t = m.graph!.initializer!.find((i) => i.name === 'embed.weight')!;
      moved = t.rawData!;
      t.rawData = new Uint8Array();
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: 'secret.bin' }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(moved.length) }),
      ];
    });
    await writeFile(join(dir, 'secret.bin'), moved);
    await refused(
      ['run', file, ...GREEDY],
      1,
      `ExportError: "${file}": tensor "embed.weight" keeps its values in the external file "secret.bin"; Ganglion reads no file a model names unless --allow-external-data`,
    );
    await refused(
      ['run', file, ...GREEDY, '--allow-external-data'],
      1,
      /tensor "embed\.weight": external file "secret\.bin" is not beside the model \(no .*models.secret\.bin\)/,
    );
    // Beside the model, with the flag: the same text as the self-contained export.
    await writeFile(join(dir, 'models', 'secret.bin'), moved);
    const external = await run(['run', file, ...GREEDY, '--allow-external-data']);
    const original = await run(['run', 'model.onnx', ...GREEDY]);
    expect(external.code, external.stderr).toBe(0);
    expect(external.stdout.length).toBeGreaterThan(20);
    expect(external.stdout).toBe(original.stdout);
    // A location leading out of the model's folder is refused even when allowed.
    const escaping = await tampered(join('models', 'escaping.onnx'), (m) => {
      const t = m.graph!.initializer!.find((i) => i.name === 'embed.weight')!;
      t.rawData = new Uint8Array();
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: '../secret.bin' })];
    });
    await refused(
      ['run', escaping, ...GREEDY, '--allow-external-data'],
      1,
      'external file "../secret.bin" is not a plain name beside the model',
    );
  }, 120_000);
});

describe('npm', () => {
  test('npx ganglion prints no npm warning', async () => {
    const r = await spawn('npx', ['--no-install', 'ganglion', '--help'], ROOT);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: ganglion <command>/);
    // onnxruntime-node's install script (a CUDA download) is turned off in package.json instead.
    expect(JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).allowScripts['onnxruntime-node']).toBe(false);
  }, 60_000);
});
