// Checkpoints: a bit-exact round trip, saves that replace only Ganglion's files (a crash at each
// stage of a save leaves the last complete save loadable; readers never see a mix of two saves),
// and a CheckpointError naming the file and the problem for each way a checkpoint can be broken.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tensor } from '../creation.js';
import { CheckpointError } from '../errors.js';
import { sequential } from '../graph/builder.js';
import type { Graph, LayerResolver } from '../graph/graph.js';
import { ParamStore } from '../graph/params.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import { Linear } from '../testing/test-layers.js';
import type { Tensor } from '../tensor.js';
import type { CommitStage } from './checkpoint-dir.js';
import { CHECKPOINT_FILES, type CheckpointState } from '../checkpoint/checkpoint.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint-folder.js';
import { decodeSafetensors, encodeSafetensors } from '../checkpoint/safetensors.js';

const resolve: LayerResolver = (kind) => (kind === 'Linear' ? (Linear as never) : undefined);
const makeGraph = (): Graph =>
  sequential(
    [
      ['hidden', new Linear({ units: 8 })],
      ['head', new Linear({ units: 3 })],
    ],
    { input: ['batch', 5] },
  );

let root: string;
let dir: string;
let backend: ReferenceBackend;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-ckpt-'));
  dir = join(root, 'run', 'ckpt');
  backend = new ReferenceBackend();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function stateWith(graph: Graph, seed: number, step = 10): CheckpointState {
  const params = ParamStore.initialize(graph, seed, backend);
  const tensors = new Map<string, Tensor>([
    ['head.bias.m', tensor([0.25, -1e-7, 1 / 3], [3], 'float32', backend)],
    ['head.bias.count', tensor([7, 0, -2], [3], 'int32', backend)],
    ['head.bias.flags', tensor([1, 0, 1], [3], 'bool', backend)],
  ]);
  return {
    graph,
    params,
    optimizerState: { name: 'adam', tensors, meta: { step, beta1: 0.9, amsgrad: false, schedule: 'cosine' } },
    meta: {
      step,
      epoch: 2,
      rng: { seed: 123, counter: 45 },
      tokenizer: { kind: 'char', vocab: ['a', 'b', '😀'] },
      batchInEpoch: 3,
      seqLen: 12,
    },
  };
}

/** Each parameter's values as float32, the precision a checkpoint stores. */
const float32Values = (params: ParamStore) =>
  Object.fromEntries(params.entries().map(([k, t]) => [k, Array.from(Float32Array.from(t.dataSync()))]));

const expectCheckpointError = async (promise: Promise<unknown>, file: string, problem: RegExp) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  const message = (error as Error).message;
  expect(message).toContain(file);
  expect(message).toMatch(problem);
};

const siblingsOf = async () => (await readdir(join(root, 'run'))).sort();

describe('saveCheckpoint / loadCheckpoint', () => {
  test('round trip: graph, weights bit-exact as float32, optimizer state, meta', async () => {
    const graph = makeGraph();
    const state = stateWith(graph, 1);
    const path = await saveCheckpoint(dir, state);
    expect(path).toBe(dir);
    expect((await readdir(dir)).sort()).toEqual([
      '.ganglion',
      'graph.json',
      'meta.json',
      'optimizer.safetensors',
      'tokenizer.json',
      'weights.safetensors',
    ]);
    expect(await siblingsOf()).toEqual(['ckpt']);

    const loadBackend = new ReferenceBackend();
    const loaded = await loadCheckpoint(dir, { resolve, backend: loadBackend });
    expect(loaded.loadedFrom).toBe(dir);
    expect(loaded.graph.toJSON()).toEqual(graph.toJSON());
    expect(loaded.params.keys()).toEqual(['hidden.kernel', 'hidden.bias', 'head.kernel', 'head.bias']);
    expect(float32Values(loaded.params)).toEqual(float32Values(state.params));
    for (const [, t] of loaded.params.entries()) expect(t.backend).toBe(loadBackend);
    // Loaded values are exactly float32 values: a second save/load changes nothing.
    for (const [k, t] of loaded.params.entries())
      expect(Array.from(t.dataSync()), k).toEqual(float32Values(state.params)[k]);

    const opt = loaded.optimizerState!;
    expect(opt.name).toBe('adam');
    expect(opt.meta).toEqual({ step: 10, beta1: 0.9, amsgrad: false, schedule: 'cosine' });
    expect([...opt.tensors.keys()]).toEqual(['head.bias.m', 'head.bias.count', 'head.bias.flags']);
    expect(opt.tensors.get('head.bias.m')!.shape).toEqual([3]);
    expect(opt.tensors.get('head.bias.m')!.toArray()).toEqual(Array.from(new Float32Array([0.25, -1e-7, 1 / 3])));
    expect(opt.tensors.get('head.bias.count')!.dtype).toBe('int32');
    expect(opt.tensors.get('head.bias.count')!.toArray()).toEqual([7, 0, -2]);
    expect(opt.tensors.get('head.bias.flags')!.dtype).toBe('bool');
    expect(opt.tensors.get('head.bias.flags')!.toArray()).toEqual([1, 0, 1]);

    // The tokenizer travels as tokenizer.json beside the weights, read back as it was given.
    expect(loaded.tokenizer).toEqual({ kind: 'char', vocab: ['a', 'b', '😀'] });
    expect(JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(loaded.tokenizer);
    const { files, ...meta } = loaded.meta;
    // The manifest: each file's size and sha256, computed here from the files on disk.
    for (const name of ['graph.json', 'weights.safetensors', 'optimizer.safetensors', 'tokenizer.json']) {
      const bytes = await readFile(join(dir, name));
      expect(files![name]).toEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    expect(meta).toEqual({
      format: 'ganglion-checkpoint',
      formatVersion: 2,
      step: 10,
      epoch: 2,
      rng: { seed: 123, counter: 45 },
      tokenizer: { file: 'tokenizer.json' },
      batchInEpoch: 3,
      seqLen: 12,
      optimizer: { name: 'adam', meta: { step: 10, beta1: 0.9, amsgrad: false, schedule: 'cosine' } },
    });
  });

  test('weights.safetensors names its tensors with the ParamStore keys, as F32', async () => {
    const state = stateWith(makeGraph(), 1);
    await saveCheckpoint(dir, state);
    const file = join(dir, CHECKPOINT_FILES.weights);
    const { tensors } = decodeSafetensors(await readFile(file), file);
    expect([...tensors].map(([k, t]) => [k, t.dtype, t.shape])).toEqual([
      ['hidden.kernel', 'F32', [5, 8]],
      ['hidden.bias', 'F32', [8]],
      ['head.kernel', 'F32', [8, 3]],
      ['head.bias', 'F32', [3]],
    ]);
  });

  test('without optimizer state: optimizer.safetensors is still written, empty', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, { graph, params: ParamStore.initialize(graph, 3, backend), meta: { step: 0, epoch: 0 } });
    const file = join(dir, CHECKPOINT_FILES.optimizer);
    expect(decodeSafetensors(await readFile(file), file).tensors.size).toBe(0);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.optimizerState).toBeUndefined();
    expect({ ...loaded.meta, files: undefined }).toEqual({
      format: 'ganglion-checkpoint',
      formatVersion: 2,
      step: 0,
      epoch: 0,
      files: undefined,
    });
  });

  test('saving again replaces the checkpoint, keeps one generation and leaves no temp files', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    const second = stateWith(graph, 2, 20);
    await saveCheckpoint(dir, second);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.meta.step).toBe(20);
    expect(loaded.loadedFrom).toBe(dir);
    expect(float32Values(loaded.params)).toEqual(float32Values(second.params));
    expect(await siblingsOf()).toEqual(['ckpt']);
    expect(await readdir(join(dir, '.ganglion'))).toEqual(['g2']);
  });

  test('a save replaces only its own files: everything else in the folder stays, byte for byte', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    const theirs = {
      'NOTES.txt': 'precious',
      'model.onnx': Buffer.from([8, 1, 2, 3]),
      'sub/keep.bin': Buffer.from([0, 255]),
    };
    await mkdir(join(dir, 'sub'));
    for (const [name, data] of Object.entries(theirs)) await writeFile(join(dir, name), data);
    await saveCheckpoint(dir, stateWith(graph, 2, 20));
    for (const [name, data] of Object.entries(theirs))
      expect(await readFile(join(dir, name))).toEqual(Buffer.from(data));
    expect((await readdir(dir)).sort()).toEqual([
      '.ganglion',
      'NOTES.txt',
      'graph.json',
      'meta.json',
      'model.onnx',
      'optimizer.safetensors',
      'sub',
      'tokenizer.json',
      'weights.safetensors',
    ]);
  });

  test.each([
    ['files but no meta.json', { 'notes.txt': 'precious' }],
    ["a meta.json that is not Ganglion's", { 'meta.json': '{"name":"my-project"}', 'index.js': 'x' }],
    ['a meta.json that is not JSON', { 'meta.json': 'name: my-project' }],
  ])('refuses to write into a folder that is not a checkpoint: %s', async (_, files) => {
    await mkdir(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
    await expectCheckpointError(
      saveCheckpoint(dir, stateWith(makeGraph(), 1)),
      dir,
      /is not a Ganglion checkpoint .*refusing to write into it/,
    );
    expect((await readdir(dir)).sort()).toEqual(Object.keys(files).sort());
    for (const [name, data] of Object.entries(files)) expect(await readFile(join(dir, name), 'utf8')).toBe(data);
  });

  test('rejects meta that would not load back', async () => {
    const graph = makeGraph();
    const params = ParamStore.initialize(graph, 1, backend);
    await expectCheckpointError(
      saveCheckpoint(dir, { graph, params, meta: { step: Number.NaN, epoch: 0 } }),
      dir,
      /meta\.json: "step" is null, expected a non-negative integer/,
    );
    await expectCheckpointError(
      saveCheckpoint(dir, { graph, params, meta: { step: 1, epoch: 0, optimizer: 'sgd' } }),
      dir,
      /"optimizer" are written by saveCheckpoint/,
    );
    const optimizerState = { name: 'sgd', tensors: new Map(), meta: { lr: Number.POSITIVE_INFINITY } };
    await expectCheckpointError(
      saveCheckpoint(dir, { graph, params, optimizerState, meta: { step: 1, epoch: 0 } }),
      dir,
      /optimizer meta "lr" is Infinity/,
    );
    expect(await readdir(root)).toEqual([]);
  });
});

describe('interrupted saves: the last complete save stays readable', () => {
  const crashAt = (stage: CommitStage) => ({
    hooks: {
      onStage: (s: CommitStage) => {
        if (s === stage) throw new Error(`simulated crash at ${stage}`);
      },
    },
  });

  test('crash after writing the new generation, before the top level changes: the old save loads', async () => {
    const graph = makeGraph();
    const first = stateWith(graph, 1, 10);
    await saveCheckpoint(dir, first);
    await expect(saveCheckpoint(dir, stateWith(graph, 2, 20), crashAt('files-written'))).rejects.toThrow(
      /simulated crash at files-written/,
    );
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.loadedFrom).toBe(dir);
    expect(loaded.meta.step).toBe(10);
    expect(float32Values(loaded.params)).toEqual(float32Values(first.params));
  });

  test('crash with the top level half replaced: readers load the newest complete generation, never a mix', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    const second = stateWith(graph, 2, 20);
    await expect(saveCheckpoint(dir, second, crashAt('partly-linked'))).rejects.toThrow(/simulated crash/);
    // The top level is torn: the weights are new, meta.json (step 10) is old.
    expect(JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')).step).toBe(10);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.loadedFrom).toBe(join(dir, '.ganglion', 'g2'));
    expect(loaded.recovered).toMatch(/weights\.safetensors: its sha256 does not match meta\.json/);
    expect(loaded.meta.step).toBe(20);
    expect(float32Values(loaded.params)).toEqual(float32Values(second.params));

    // The next save completes normally and removes the generations it supersedes.
    const third = stateWith(graph, 3, 30);
    await saveCheckpoint(dir, third);
    const again = await loadCheckpoint(dir, { resolve, backend });
    expect(again.loadedFrom).toBe(dir);
    expect(again.meta.step).toBe(30);
    expect(await readdir(join(dir, '.ganglion'))).toEqual(['g3']);
  });

  test('crash during the very first save: nothing complete at the top level, the generation loads', async () => {
    const first = stateWith(makeGraph(), 1, 10);
    await expect(saveCheckpoint(dir, first, crashAt('partly-linked'))).rejects.toThrow(/simulated crash/);
    expect((await readdir(dir)).sort()).toEqual(['.ganglion', 'weights.safetensors']);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.meta.step).toBe(10);
    expect(loaded.recovered).toMatch(/meta\.json: file is missing/);
  });

  test('crash after the top level is replaced, before old generations are removed: the new save loads', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    await expect(saveCheckpoint(dir, stateWith(graph, 2, 20), crashAt('linked'))).rejects.toThrow(/simulated crash/);
    expect((await readdir(join(dir, '.ganglion'))).sort()).toEqual(['g1', 'g2']);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.loadedFrom).toBe(dir);
    expect(loaded.meta.step).toBe(20);
  });

  test('readers running alongside saves always get one complete save', async () => {
    // Every weight of save k equals k, and meta.step is k: a mix of two saves would show.
    const graph = makeGraph();
    const stateAt = (k: number): CheckpointState => {
      const params = new ParamStore(graph);
      for (const { node, spec } of graph.params())
        params.set(
          `${node}.${spec.name}`,
          tensor(
            new Float32Array((spec.shape as number[]).reduce((a, b) => a * b, 1)).fill(k),
            spec.shape as number[],
            'float32',
            backend,
          ),
        );
      return { graph, params, meta: { step: k, epoch: 0 } };
    };
    await saveCheckpoint(dir, stateAt(1));
    let saving = true;
    const saves = (async () => {
      for (let k = 2; k <= 25; k++) await saveCheckpoint(dir, stateAt(k));
      saving = false;
    })();
    const seen: number[] = [];
    const reads = (async () => {
      while (saving) {
        const loaded = await loadCheckpoint(dir, { resolve, backend });
        const values = new Set(loaded.params.entries().flatMap(([, t]) => Array.from(t.dataSync())));
        expect([...values]).toEqual([loaded.meta.step]);
        seen.push(loaded.meta.step);
      }
    })();
    await Promise.all([saves, reads]);
    expect(seen.length).toBeGreaterThan(3);
  });

  test('a format-1 checkpoint, and the <dir>.old-* a crash mid-swap left, still load; a save never deletes the old copy', async () => {
    const graph = makeGraph();
    const first = stateWith(graph, 1, 10);
    await saveCheckpoint(dir, first);
    // Rewrite it as format 1 wrote it: no format, no manifest, no .ganglion; then the crash state.
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    delete meta.format;
    delete meta.files;
    meta.formatVersion = 1;
    await rm(join(dir, '.ganglion'), { recursive: true });
    await rm(join(dir, 'meta.json'));
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    const v1 = await loadCheckpoint(dir, { resolve, backend });
    expect(v1.meta.formatVersion).toBe(1);
    expect(float32Values(v1.params)).toEqual(float32Values(first.params));
    const old = join(root, 'run', 'ckpt.old-4242-abcdef01');
    await rename(dir, old);
    const recovered = await loadCheckpoint(dir, { resolve, backend });
    expect(recovered.loadedFrom).toBe(old);
    expect(float32Values(recovered.params)).toEqual(float32Values(first.params));
    await saveCheckpoint(dir, stateWith(graph, 2, 20));
    expect(await siblingsOf()).toEqual(['ckpt', 'ckpt.old-4242-abcdef01']);
    expect((await loadCheckpoint(dir, { resolve, backend })).meta.step).toBe(20);
  });

  test('a save into a folder locked by a running process is refused; a stale lock is taken over', async () => {
    await saveCheckpoint(dir, stateWith(makeGraph(), 1, 10));
    const lock = join(dir, '.ganglion', 'lock');
    // pid 1 runs (init); another host cannot be checked.
    await writeFile(lock, JSON.stringify({ pid: 1, host: (await import('node:os')).hostname(), since: 'then' }));
    await expectCheckpointError(
      saveCheckpoint(dir, stateWith(makeGraph(), 2, 20)),
      dir,
      /is in use: process 1 has been writing there since then/,
    );
    await writeFile(lock, JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then' }));
    await expectCheckpointError(
      saveCheckpoint(dir, stateWith(makeGraph(), 2, 20)),
      dir,
      /process 1 on host elsewhere .*delete .*lock/,
    );
    await writeFile(
      lock,
      JSON.stringify({ pid: 2147483646, host: (await import('node:os')).hostname(), since: 'then' }),
    );
    await saveCheckpoint(dir, stateWith(makeGraph(), 2, 20));
    expect((await loadCheckpoint(dir, { resolve, backend })).meta.step).toBe(20);
    expect(await readdir(join(dir, '.ganglion'))).toEqual(['g2']);
  });
});

describe('loading a broken checkpoint: CheckpointError naming the file and the problem', () => {
  const weightsPath = () => join(dir, CHECKPOINT_FILES.weights);

  beforeEach(async () => {
    await saveCheckpoint(dir, stateWith(makeGraph(), 1));
    // Without the generation a torn top level could fall back to, each problem surfaces as is.
    await rm(join(dir, '.ganglion'), { recursive: true });
  });

  /** Replace a file and update the manifest to match: a checkpoint written wrong, not a torn one. */
  const replaceFile = async (name: string, data: Uint8Array | string) => {
    await rm(join(dir, '.ganglion'), { recursive: true, force: true });
    await writeFile(join(dir, name), data);
    const metaPath = join(dir, 'meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    const bytes = Buffer.from(data);
    meta.files[name] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    await writeFile(metaPath, JSON.stringify(meta));
  };

  const rewriteWeights = async (
    edit: (tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>) => void,
  ) => {
    const { tensors } = decodeSafetensors(await readFile(weightsPath()), weightsPath());
    const copy = new Map(
      [...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: [...t.shape], data: t.data as Float32Array }]),
    );
    edit(copy);
    await replaceFile(CHECKPOINT_FILES.weights, encodeSafetensors(copy));
  };

  test('truncated weights file', async () => {
    const bytes = await readFile(weightsPath());
    await replaceFile(CHECKPOINT_FILES.weights, bytes.subarray(0, bytes.length - 5));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensor "head\.bias": data_offsets \[\d+, \d+\] run past the end of the data .*the file is truncated/,
    );
    await replaceFile(CHECKPOINT_FILES.weights, bytes.subarray(0, 5));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /file is 5 bytes, shorter than the 8-byte header length/,
    );
  });

  test('wrong header: a header length larger than the file', async () => {
    const bytes = new Uint8Array(await readFile(weightsPath()));
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    await replaceFile(CHECKPOINT_FILES.weights, bytes);
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /header length \d+ runs past the end of the file/,
    );
  });

  test('a missing tensor', async () => {
    await rewriteWeights((t) => t.delete('head.bias'));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /missing tensor "head\.bias" \(parameter "bias" of Linear node "head", shape \[3\]\)/,
    );
  });

  test('a shape mismatch', async () => {
    await rewriteWeights((t) =>
      t.set('head.kernel', { dtype: 'F32', shape: [3, 8], data: t.get('head.kernel')!.data }),
    );
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensor "head\.kernel" has shape \[3, 8\], expected \[8, 3\] \(parameter "kernel" of Linear node "head"\)/,
    );
  });

  test('tensors the graph does not declare', async () => {
    await rewriteWeights((t) => t.set('head.extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) }));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensors the graph does not declare: "head\.extra"/,
    );
  });

  test('an unknown layer kind', async () => {
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve: () => undefined, backend }),
      join(dir, 'graph.json'),
      /cannot rebuild the graph: node "hidden": unknown layer kind "Linear"/,
    );
  });

  test('a missing or malformed meta.json, a wrong formatVersion', async () => {
    const meta = join(dir, 'meta.json');
    const text = await readFile(meta, 'utf8');
    await rm(meta);
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /meta\.json: file is missing$/);
    await writeFile(meta, '{"formatVersion": 2,');
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /not valid JSON/);
    await writeFile(meta, text.replace('"formatVersion": 2', '"formatVersion": 3'));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      meta,
      /formatVersion 3 is not supported \(this version reads 1 and 2\)/,
    );
    await writeFile(meta, text.replace('"seqLen": 12', '"seqLen": 0'));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      meta,
      /"seqLen" is 0, expected a whole number >= 1/,
    );
    await writeFile(meta, text.replace('"step": 10', '"step": -3'));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      meta,
      /"step" is -3, expected a non-negative integer/,
    );
    await writeFile(meta, JSON.stringify({ step: 1, epoch: 0 }));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      meta,
      /has no "formatVersion"; not a Ganglion checkpoint/,
    );
    // Inline, as checkpoints held a character tokenizer before tokenizer.json.
    await writeFile(
      meta,
      text.replace(/"tokenizer": \{[^}]*\}/, '"tokenizer": { "kind": "char", "vocab": ["a", "a", "b"] }'),
    );
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      meta,
      /"tokenizer": character tokenizer: 'a' \(U\+0061\) appears twice/,
    );
  });

  test('a missing graph.json or weights file, a missing directory', async () => {
    await rm(weightsPath());
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /file is missing/);
    await rm(join(dir, 'graph.json'));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), join(dir, 'graph.json'), /file is missing/);
    await expectCheckpointError(
      loadCheckpoint(join(root, 'nope'), { resolve, backend }),
      join(root, 'nope'),
      /checkpoint directory does not exist/,
    );
  });

  test('optimizer tensors without an optimizer entry in meta.json', async () => {
    const meta = join(dir, 'meta.json');
    const json = JSON.parse(await readFile(meta, 'utf8'));
    delete json.optimizer;
    await writeFile(meta, JSON.stringify(json));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      join(dir, 'optimizer.safetensors'),
      /holds 3 tensors, but .*meta\.json has no "optimizer" entry/,
    );
  });

  test('a byte changed after the save: the checksum names the file', async () => {
    const bytes = await readFile(weightsPath());
    bytes[bytes.length - 2] ^= 0x40;
    await writeFile(weightsPath(), bytes);
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /its sha256 does not match meta\.json \(the file was changed after it was saved, or a save was interrupted\)/,
    );
  });

  test('a NaN or infinite weight is an error naming the tensor', async () => {
    await rewriteWeights((t) => t.get('hidden.bias')!.data.set([Number.NaN], 5));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensor "hidden\.bias" holds NaN at flat index 5; a checkpoint's values must be finite/,
    );
    await rewriteWeights((t) => {
      t.get('hidden.bias')!.data.set([0], 5);
      t.get('head.kernel')!.data.set([Number.NEGATIVE_INFINITY], 0);
    });
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensor "head\.kernel" holds -Infinity at flat index 0/,
    );
  });

  test('optimizer slots are checked against the parameters: extra, wrong shape, missing, non-finite', async () => {
    const optimizerPath = join(dir, CHECKPOINT_FILES.optimizer);
    const write = (tensors: Record<string, { shape: number[]; data: Float32Array }>) =>
      replaceFile(
        CHECKPOINT_FILES.optimizer,
        encodeSafetensors(new Map(Object.entries(tensors).map(([k, t]) => [k, { dtype: 'F32' as const, ...t }]))),
      );
    const f = (n: number, v = 0) => new Float32Array(n).fill(v);
    await write({ 'lstm.kernel.m': { shape: [3], data: f(3) } });
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      optimizerPath,
      /tensor "lstm\.kernel\.m" is not a slot of any parameter of the graph/,
    );
    await write({ 'head.bias.m': { shape: [4], data: f(4) } });
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      optimizerPath,
      /tensor "head\.bias\.m" has shape \[4\], but parameter "head\.bias" has shape \[3\]/,
    );
    await write({
      'head.bias.m': { shape: [3], data: f(3) },
      'head.bias.v': { shape: [3], data: f(3) },
      'hidden.bias.m': { shape: [8], data: f(8) },
    });
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      optimizerPath,
      /missing tensor "hidden\.bias\.v" \(parameter "hidden\.bias" has slots "m" but not "v"\)/,
    );
    await write({ 'head.bias.m': { shape: [3], data: f(3, Number.POSITIVE_INFINITY) } });
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      optimizerPath,
      /tensor "head\.bias\.m" holds Infinity at flat index 0/,
    );
  });

  test('a broken checkpoint leaves no tensors behind', async () => {
    await rewriteWeights((t) => t.delete('head.bias'));
    const fresh = new ReferenceBackend();
    await expect(loadCheckpoint(dir, { resolve, backend: fresh })).rejects.toThrow(CheckpointError);
    expect(fresh.numTensors()).toBe(0);
  });
});
