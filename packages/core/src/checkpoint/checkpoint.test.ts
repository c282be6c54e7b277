// Checkpoints: a bit-exact round trip, atomic replacement (a crash at each stage of the commit
// leaves a loadable checkpoint), and a CheckpointError naming the file and the problem for each
// way a checkpoint can be broken.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { TensorSpec } from '../backend.js';
import { tensor } from '../creation.js';
import { CheckpointError } from '../errors.js';
import { sequential } from '../graph/builder.js';
import type { Graph, LayerResolver } from '../graph/graph.js';
import { Layer, type LayerSignature, expectPort, lastDim } from '../graph/layer.js';
import { ParamStore } from '../graph/params.js';
import { add } from '../ops/add.js';
import { matMul } from '../ops/mat-mul.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import type { Tensor } from '../tensor.js';
import type { CommitStage } from './atomic-dir.js';
import { CHECKPOINT_FILES, type CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/** A minimal dense layer local to this test (core cannot depend on @ganglion/layers). */
class Linear extends Layer<{ units: number }> {
  static override readonly kind = 'Linear';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape.slice(0, -1), this.config.units] }],
      params: [
        { name: 'kernel', shape: [lastDim('x', x), this.config.units], init: { kind: 'glorot-uniform' } },
        { name: 'bias', shape: [this.config.units], init: { kind: 'uniform', low: -1, high: 1 } },
      ],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>, { kernel, bias }: Readonly<Record<string, Tensor>>): Tensor {
    return add(matMul(x, kernel), bias);
  }
}

const resolve: LayerResolver = (kind) => (kind === 'Linear' ? (Linear as never) : undefined);
const makeGraph = (): Graph => sequential([['hidden', new Linear({ units: 8 })], ['head', new Linear({ units: 3 })]], { input: ['batch', 5] });

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
    ['hidden.kernel.m', tensor([0.25, -1e-7, 3.5, 1 / 3], [2, 2], 'float32', backend)],
    ['count', tensor([7], [1], 'int32', backend)],
    ['flags', tensor([1, 0, 1], [3], 'bool', backend)],
  ]);
  return {
    graph,
    params,
    optimizerState: { name: 'adam', tensors, meta: { step, beta1: 0.9, amsgrad: false, schedule: 'cosine' } },
    meta: { step, epoch: 2, rng: { seed: 123, counter: 45 }, tokenizer: { kind: 'char', vocab: ['a', 'b', '😀'] }, batchInEpoch: 3 },
  };
}

/** Each parameter's values as float32, the precision a checkpoint stores. */
const float32Values = (params: ParamStore) => Object.fromEntries(params.entries().map(([k, t]) => [k, Array.from(Float32Array.from(t.dataSync()))]));

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
    expect((await readdir(dir)).sort()).toEqual(['graph.json', 'meta.json', 'optimizer.safetensors', 'weights.safetensors']);
    expect(await siblingsOf()).toEqual(['ckpt']);

    const loadBackend = new ReferenceBackend();
    const loaded = await loadCheckpoint(dir, { resolve, backend: loadBackend });
    expect(loaded.loadedFrom).toBe(dir);
    expect(loaded.graph.toJSON()).toEqual(graph.toJSON());
    expect(loaded.params.keys()).toEqual(['hidden.kernel', 'hidden.bias', 'head.kernel', 'head.bias']);
    expect(float32Values(loaded.params)).toEqual(float32Values(state.params));
    for (const [, t] of loaded.params.entries()) expect(t.backend).toBe(loadBackend);
    // Loaded values are exactly float32 values: a second save/load changes nothing.
    for (const [k, t] of loaded.params.entries()) expect(Array.from(t.dataSync()), k).toEqual(float32Values(state.params)[k]);

    const opt = loaded.optimizerState!;
    expect(opt.name).toBe('adam');
    expect(opt.meta).toEqual({ step: 10, beta1: 0.9, amsgrad: false, schedule: 'cosine' });
    expect([...opt.tensors.keys()]).toEqual(['hidden.kernel.m', 'count', 'flags']);
    expect(opt.tensors.get('hidden.kernel.m')!.shape).toEqual([2, 2]);
    expect(opt.tensors.get('hidden.kernel.m')!.toArray()).toEqual(Array.from(new Float32Array([0.25, -1e-7, 3.5, 1 / 3])));
    expect(opt.tensors.get('count')!.dtype).toBe('int32');
    expect(opt.tensors.get('count')!.toArray()).toEqual([7]);
    expect(opt.tensors.get('flags')!.dtype).toBe('bool');
    expect(opt.tensors.get('flags')!.toArray()).toEqual([1, 0, 1]);

    expect(loaded.meta).toEqual({
      formatVersion: 1,
      step: 10,
      epoch: 2,
      rng: { seed: 123, counter: 45 },
      tokenizer: { kind: 'char', vocab: ['a', 'b', '😀'] },
      batchInEpoch: 3,
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
    expect(loaded.meta).toEqual({ formatVersion: 1, step: 0, epoch: 0 });
  });

  test('saving again replaces the checkpoint and leaves no temp or old directories', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    const second = stateWith(graph, 2, 20);
    await saveCheckpoint(dir, second);
    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.meta.step).toBe(20);
    expect(float32Values(loaded.params)).toEqual(float32Values(second.params));
    expect(await siblingsOf()).toEqual(['ckpt']);
  });

  test('refuses to replace a directory that is not a checkpoint', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'notes.txt'), 'precious');
    await expectCheckpointError(saveCheckpoint(dir, stateWith(makeGraph(), 1)), dir, /is not a checkpoint \(no meta\.json\); refusing to replace it/);
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('precious');
    expect(await siblingsOf()).toEqual(['ckpt']);
  });

  test('rejects meta that would not load back', async () => {
    const graph = makeGraph();
    const params = ParamStore.initialize(graph, 1, backend);
    await expectCheckpointError(saveCheckpoint(dir, { graph, params, meta: { step: Number.NaN, epoch: 0 } }), dir, /meta\.json: "step" is null, expected a non-negative integer/);
    await expectCheckpointError(saveCheckpoint(dir, { graph, params, meta: { step: 1, epoch: 0, optimizer: 'sgd' } }), dir, /"optimizer" are written by saveCheckpoint/);
    const optimizerState = { name: 'sgd', tensors: new Map(), meta: { lr: Number.POSITIVE_INFINITY } };
    await expectCheckpointError(saveCheckpoint(dir, { graph, params, optimizerState, meta: { step: 1, epoch: 0 } }), dir, /optimizer meta "lr" is Infinity/);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('atomic save: a crash at any stage leaves a loadable checkpoint', () => {
  const crashAt = (stage: CommitStage) => ({
    hooks: {
      onStage: (s: CommitStage) => {
        if (s === stage) throw new Error(`simulated crash at ${stage}`);
      },
    },
  });

  test('crash after writing the temp directory, before any rename: the old checkpoint loads', async () => {
    const graph = makeGraph();
    const first = stateWith(graph, 1, 10);
    await saveCheckpoint(dir, first);
    await expect(saveCheckpoint(dir, stateWith(graph, 2, 20), crashAt('files-written'))).rejects.toThrow(/simulated crash at files-written/);
    expect((await siblingsOf()).filter((n) => n.startsWith('ckpt.tmp-'))).toHaveLength(1);

    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.loadedFrom).toBe(dir);
    expect(loaded.meta.step).toBe(10);
    expect(float32Values(loaded.params)).toEqual(float32Values(first.params));
  });

  test('crash between the two renames: loading the missing directory recovers the old one', async () => {
    const graph = makeGraph();
    const first = stateWith(graph, 1, 10);
    await saveCheckpoint(dir, first);
    await expect(saveCheckpoint(dir, stateWith(graph, 2, 20), crashAt('moved-aside'))).rejects.toThrow(/simulated crash/);
    const names = await siblingsOf();
    expect(names).not.toContain('ckpt');
    const old = names.find((n) => n.startsWith('ckpt.old-'))!;
    expect(old).toBeDefined();

    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.loadedFrom).toBe(join(root, 'run', old));
    expect(loaded.meta.step).toBe(10);
    expect(float32Values(loaded.params)).toEqual(float32Values(first.params));

    // The next save puts a checkpoint back in place and removes the old one.
    const third = stateWith(graph, 3, 30);
    await saveCheckpoint(dir, third);
    expect((await siblingsOf()).filter((n) => !n.startsWith('ckpt.tmp-'))).toEqual(['ckpt']);
    const again = await loadCheckpoint(dir, { resolve, backend });
    expect(again.meta.step).toBe(30);
    expect(float32Values(again.params)).toEqual(float32Values(third.params));
  });

  test('crash after the rename, before cleanup: the new checkpoint loads; the next save removes the garbage', async () => {
    const graph = makeGraph();
    await saveCheckpoint(dir, stateWith(graph, 1, 10));
    await expect(saveCheckpoint(dir, stateWith(graph, 2, 20), crashAt('renamed'))).rejects.toThrow(/simulated crash/);
    expect((await siblingsOf()).filter((n) => n.startsWith('ckpt.old-'))).toHaveLength(1);
    expect((await loadCheckpoint(dir, { resolve, backend })).meta.step).toBe(20);
    await saveCheckpoint(dir, stateWith(graph, 3, 30));
    expect(await siblingsOf()).toEqual(['ckpt']);
  });

  test('temp directories of processes that no longer run are removed by the next save', async () => {
    const stale = join(root, 'run', 'ckpt.tmp-2147483646-deadbeef');
    await mkdir(stale, { recursive: true });
    await writeFile(join(stale, 'weights.safetensors'), 'partial');
    await saveCheckpoint(dir, stateWith(makeGraph(), 1));
    expect(await siblingsOf()).toEqual(['ckpt']);
  });
});

describe('loading a broken checkpoint: CheckpointError naming the file and the problem', () => {
  const weightsPath = () => join(dir, CHECKPOINT_FILES.weights);

  beforeEach(async () => {
    await saveCheckpoint(dir, stateWith(makeGraph(), 1));
  });

  const rewriteWeights = async (edit: (tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>) => void) => {
    const { tensors } = decodeSafetensors(await readFile(weightsPath()), weightsPath());
    const copy = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: [...t.shape], data: t.data as Float32Array }]));
    edit(copy);
    await writeFile(weightsPath(), encodeSafetensors(copy));
  };

  test('truncated weights file', async () => {
    const bytes = await readFile(weightsPath());
    await writeFile(weightsPath(), bytes.subarray(0, bytes.length - 5));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /tensor "head\.bias": data_offsets \[\d+, \d+\] run past the end of the data .*the file is truncated/);
    await writeFile(weightsPath(), bytes.subarray(0, 5));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /file is 5 bytes, shorter than the 8-byte header length/);
  });

  test('wrong header: a header length larger than the file', async () => {
    const bytes = new Uint8Array(await readFile(weightsPath()));
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    await writeFile(weightsPath(), bytes);
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /header length \d+ runs past the end of the file/);
  });

  test('a missing tensor', async () => {
    await rewriteWeights((t) => t.delete('head.bias'));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /missing tensor "head\.bias" \(parameter "bias" of Linear node "head", shape \[3\]\)/);
  });

  test('a shape mismatch', async () => {
    await rewriteWeights((t) => t.set('head.kernel', { dtype: 'F32', shape: [3, 8], data: t.get('head.kernel')!.data }));
    await expectCheckpointError(
      loadCheckpoint(dir, { resolve, backend }),
      weightsPath(),
      /tensor "head\.kernel" has shape \[3, 8\], expected \[8, 3\] \(parameter "kernel" of Linear node "head"\)/,
    );
  });

  test('tensors the graph does not declare', async () => {
    await rewriteWeights((t) => t.set('head.extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) }));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /tensors the graph does not declare: "head\.extra"/);
  });

  test('an unknown layer kind', async () => {
    await expectCheckpointError(loadCheckpoint(dir, { resolve: () => undefined, backend }), join(dir, 'graph.json'), /cannot rebuild the graph: node "hidden": unknown layer kind "Linear"/);
  });

  test('a missing or malformed meta.json, a wrong formatVersion', async () => {
    const meta = join(dir, 'meta.json');
    const text = await readFile(meta, 'utf8');
    await rm(meta);
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /meta\.json: file is missing$/);
    await writeFile(meta, '{"formatVersion": 1,');
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /not valid JSON/);
    await writeFile(meta, text.replace('"formatVersion": 1', '"formatVersion": 2'));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /formatVersion 2 is not supported \(this version reads 1\)/);
    await writeFile(meta, JSON.stringify({ step: 1, epoch: 0 }));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /has no "formatVersion"; not a Ganglion checkpoint/);
    await writeFile(meta, text.replace('"vocab": [', '"vocab": ["a", '));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), meta, /"tokenizer": character tokenizer: 'a' \(U\+0061\) appears twice/);
  });

  test('a missing graph.json or weights file, a missing directory', async () => {
    await rm(weightsPath());
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), weightsPath(), /file is missing/);
    await rm(join(dir, 'graph.json'));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), join(dir, 'graph.json'), /file is missing/);
    await expectCheckpointError(loadCheckpoint(join(root, 'nope'), { resolve, backend }), join(root, 'nope'), /checkpoint directory does not exist/);
  });

  test('optimizer tensors without an optimizer entry in meta.json', async () => {
    const meta = join(dir, 'meta.json');
    const json = JSON.parse(await readFile(meta, 'utf8'));
    delete json.optimizer;
    await writeFile(meta, JSON.stringify(json));
    await expectCheckpointError(loadCheckpoint(dir, { resolve, backend }), join(dir, 'optimizer.safetensors'), /holds 3 tensors, but .*meta\.json has no "optimizer" entry/);
  });

  test('a broken checkpoint leaves no tensors behind', async () => {
    await rewriteWeights((t) => t.delete('head.bias'));
    const fresh = new ReferenceBackend();
    await expect(loadCheckpoint(dir, { resolve, backend: fresh })).rejects.toThrow(CheckpointError);
    expect(fresh.numTensors()).toBe(0);
  });
});
