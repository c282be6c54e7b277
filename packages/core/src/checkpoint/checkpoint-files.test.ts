// Checkpoints as bytes: the pure SHA-256 against node:crypto; `checkpointFiles` gives exactly the
// bytes the node folder writer puts on disk (and that `loadCheckpoint` reads); `checkpointFromFiles`
// loads them back bit-exactly and names the file when one was changed or is missing.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tensor } from '../creation.js';
import { CheckpointError } from '../errors.js';
import { sequential } from '../graph/builder.js';
import type { LayerResolver } from '../graph/graph.js';
import { ParamStore } from '../graph/params.js';
import { loadCheckpoint, saveCheckpoint } from '../node/checkpoint-folder.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import { Linear } from '../testing/test-layers.js';
import { CHECKPOINT_FILES, type CheckpointState, checkpointFiles, checkpointFromFiles } from './checkpoint.js';
import { sha256Hex } from './sha256.js';

const resolve: LayerResolver = (kind) => (kind === 'Linear' ? (Linear as never) : undefined);
const backend = new ReferenceBackend();
const graph = sequential(
  [
    ['hidden', new Linear({ units: 8 })],
    ['head', new Linear({ units: 3 })],
  ],
  { input: ['batch', 5] },
);
const state: CheckpointState = {
  graph,
  params: ParamStore.initialize(graph, 7, backend),
  optimizerState: {
    name: 'adam',
    tensors: new Map([['head.bias.m', tensor([0.25, -1e-7, 1 / 3], [3], 'float32', backend)]]),
    meta: { step: 4, beta1: 0.9 },
  },
  meta: { step: 4, epoch: 1, tokenizer: { kind: 'char', vocab: ['a', 'b', '😀'] } },
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-ckpt-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sha256Hex', () => {
  test('agrees with node:crypto on every length around the block and padding boundaries', () => {
    let seed = 1;
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003]) {
      const data = Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
      expect(sha256Hex(data)).toBe(createHash('sha256').update(data).digest('hex'));
    }
    // An offset view (a file's bytes inside a larger buffer) hashes only its own bytes.
    const big = new Uint8Array(200).fill(9);
    expect(sha256Hex(big.subarray(10, 150))).toBe(createHash('sha256').update(big.subarray(10, 150)).digest('hex'));
  });
});

describe('checkpointFiles', () => {
  test('are the bytes the node writer puts in the folder, and load there and from memory alike', async () => {
    const files = checkpointFiles(state);
    expect(Object.keys(files).sort()).toEqual(
      ['graph.json', 'meta.json', 'optimizer.safetensors', 'tokenizer.json', 'weights.safetensors'].sort(),
    );
    const dir = join(root, 'ckpt');
    await saveCheckpoint(dir, state);
    const onDisk = (await readdir(dir)).filter((n) => n !== '.ganglion').sort();
    expect(onDisk).toEqual(Object.keys(files).sort());
    for (const name of onDisk) expect(new Uint8Array(await readFile(join(dir, name)))).toEqual(files[name]);

    const fromDisk = await loadCheckpoint(dir, { resolve, backend });
    const fromMemory = checkpointFromFiles(files, { resolve, backend });
    expect(fromMemory.loadedFrom).toBe('(in memory)');
    expect(fromMemory.tokenizer).toEqual(state.meta.tokenizer);
    expect(fromMemory.meta.step).toBe(4);
    for (const [key, t] of fromDisk.params.entries()) {
      const original = Float32Array.from(state.params.get(key).dataSync());
      expect(Float32Array.from(fromMemory.params.get(key).dataSync())).toEqual(original);
      expect(Float32Array.from(t.dataSync())).toEqual(original);
    }
    expect(Array.from(fromMemory.optimizerState!.tensors.get('head.bias.m')!.dataSync())).toEqual(
      Array.from(Float32Array.of(0.25, -1e-7, 1 / 3)),
    );
  });

  test('a changed or missing file is a CheckpointError naming it', () => {
    const files = checkpointFiles(state);
    const weights = files[CHECKPOINT_FILES.weights].slice();
    weights[weights.length - 1] ^= 1;
    expect(() =>
      checkpointFromFiles({ ...files, [CHECKPOINT_FILES.weights]: weights }, { resolve, backend, name: 'upload' }),
    ).toThrow(
      new CheckpointError(
        'upload/weights.safetensors: its sha256 does not match meta.json (the file was changed after it was saved)',
      ),
    );
    const { [CHECKPOINT_FILES.graph]: _graph, ...noGraph } = files;
    expect(() => checkpointFromFiles(noGraph, { resolve, backend, name: 'upload' })).toThrow(
      new CheckpointError('upload/graph.json: file is missing'),
    );
    const { [CHECKPOINT_FILES.meta]: _meta, ...noMeta } = files;
    expect(() => checkpointFromFiles(noMeta, { resolve, backend })).toThrow(
      new CheckpointError('(in memory)/meta.json: file is missing'),
    );
  });
});
