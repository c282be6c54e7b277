// Checkpoints: a directory with
//   graph.json             graph.toJSON()
//   weights.safetensors    one F32 tensor per parameter, named `<node>.<param>` (ParamStore keys)
//   optimizer.safetensors  the optimizer's state tensors, e.g. `<node>.<param>.<slot>` (always written)
//   meta.json              { formatVersion: 1, step, epoch, rng?, tokenizer?, optimizer?, ...extra }
// written atomically (atomic-dir.ts explains how, and what a crash at each moment leaves).
// Loading checks every file against the graph and throws a CheckpointError naming the file and
// the problem. Weights are float32 as in real models: on the float64 reference backend a save
// rounds parameters to float32.

import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import type { DType } from '../dtype.js';
import { getBackend, keep } from '../engine.js';
import { CheckpointError } from '../errors.js';
import type { Graph, LayerResolver } from '../graph/graph.js';
import { graphFromJSON } from '../graph/builder.js';
import { ParamStore, paramKey } from '../graph/params.js';
import { formatShape, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { type CommitHooks, commitDirectory, exists, recoverableDirectory, tempSibling, writeDurably } from './atomic-dir.js';
import { type CheckpointMeta, type CheckpointMetaInput, type OptimizerMetaValue, CHECKPOINT_FORMAT_VERSION, checkOptimizerMeta, parseCheckpointMeta } from './checkpoint-meta.js';
import { type SafetensorsDType, type SafetensorsTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';

export const CHECKPOINT_FILES = { graph: 'graph.json', weights: 'weights.safetensors', optimizer: 'optimizer.safetensors', meta: 'meta.json' } as const;

/** An optimizer's state as checkpoints hold it (the same shape as the training `OptimizerState`). */
export interface CheckpointOptimizerState {
  readonly name: string;
  /** State tensors by name, e.g. `lstm.weight_ih.m`. */
  readonly tensors: Map<string, Tensor>;
  readonly meta: Record<string, OptimizerMetaValue>;
}

export interface CheckpointState {
  readonly graph: Graph;
  readonly params: ParamStore;
  readonly optimizerState?: CheckpointOptimizerState;
  readonly meta: CheckpointMetaInput;
}

export interface SaveCheckpointOptions {
  /** @internal Tests simulate a crash with a hook that throws at a stage of the commit. */
  readonly hooks?: CommitHooks;
}

export interface LoadCheckpointOptions {
  /** Resolves layer kinds in graph.json to classes (the DI layer registry). */
  readonly resolve: LayerResolver;
  /** Where the loaded tensors live; default the current backend. */
  readonly backend?: Backend;
}

export interface LoadedCheckpoint {
  readonly graph: Graph;
  readonly params: ParamStore;
  /** Absent when the checkpoint was saved without one. */
  readonly optimizerState?: CheckpointOptimizerState;
  readonly meta: CheckpointMeta;
  /** The directory read: the one asked for, or the `<dir>.old-*` a crash mid-save left. */
  readonly loadedFrom: string;
}

const TO_SAFETENSORS: Record<DType, SafetensorsDType> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
const FROM_SAFETENSORS: Partial<Record<SafetensorsDType, DType>> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
const TYPED = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

const safetensorsOf = (t: Tensor): SafetensorsTensor => ({ dtype: TO_SAFETENSORS[t.dtype], shape: t.shape as number[], data: TYPED[t.dtype].from(t.dataSync()) });

/** Turn a file-system error into a CheckpointError; anything else (a test hook's crash) passes. */
function fsError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? new CheckpointError(`${what}: ${(e as Error).message}`) : e;
}

/** The checkpoint's files as bytes, validated before anything touches the disk. */
function encodeCheckpoint(dir: string, state: CheckpointState): Record<keyof typeof CHECKPOINT_FILES, Uint8Array | string> {
  const { graph, params, optimizerState } = state;
  const fail = (problem: string): never => {
    throw new CheckpointError(`cannot save checkpoint ${dir}: ${problem}`);
  };
  const declared = new Set<string>();
  const weights = new Map<string, SafetensorsTensor>();
  for (const { node, spec } of graph.params()) {
    const key = paramKey(node, spec.name);
    declared.add(key);
    if (!params.has(key)) fail(`parameter "${key}" has no value in the ParamStore`);
    const t = params.get(key);
    if (!sameShape(t.shape, spec.shape)) fail(`parameter "${key}" has shape ${formatShape(t.shape)}, but the graph declares ${formatShape(spec.shape)}`);
    weights.set(key, { dtype: 'F32', shape: spec.shape, data: Float32Array.from(t.dataSync()) });
  }
  const extra = params.keys().filter((k) => !declared.has(k));
  if (extra.length > 0) fail(`the ParamStore holds parameters the graph does not declare: ${extra.map((k) => `"${k}"`).join(', ')}`);

  const { formatVersion, optimizer, ...rest } = state.meta as CheckpointMetaInput & { formatVersion?: unknown; optimizer?: unknown };
  if (formatVersion !== undefined || optimizer !== undefined) fail('meta "formatVersion" and "optimizer" are written by saveCheckpoint; pass the optimizer as optimizerState');
  const optimizerTensors = new Map<string, SafetensorsTensor>();
  let optimizerMeta: CheckpointMeta['optimizer'];
  if (optimizerState) {
    if (typeof optimizerState.name !== 'string' || optimizerState.name === '') fail('optimizerState.name must be a non-empty string');
    optimizerMeta = { name: optimizerState.name, meta: checkOptimizerMeta(optimizerState.meta, `cannot save checkpoint ${dir}`) };
    for (const [name, t] of optimizerState.tensors) optimizerTensors.set(name, safetensorsOf(t));
  }
  const meta: CheckpointMeta = { formatVersion: CHECKPOINT_FORMAT_VERSION, ...rest, ...(optimizerMeta ? { optimizer: optimizerMeta } : {}) };
  const metaText = `${JSON.stringify(meta, null, 2)}\n`;
  // What the loader will see (NaN became null, undefined vanished) must pass the loader's checks.
  parseCheckpointMeta(JSON.parse(metaText), `cannot save checkpoint ${dir}: meta.json`);
  return {
    graph: `${JSON.stringify(graph.toJSON(), null, 2)}\n`,
    weights: encodeSafetensors(weights),
    optimizer: encodeSafetensors(optimizerTensors),
    meta: metaText,
  };
}

/**
 * Save a checkpoint to `dir` atomically, replacing any checkpoint there. Returns the absolute path.
 *
 *   await saveCheckpoint('runs/lm/ckpt', { graph, params: runtime.params, meta: { step, epoch, rng: rng.state } });
 */
export async function saveCheckpoint(dir: string, state: CheckpointState, options: SaveCheckpointOptions = {}): Promise<string> {
  const target = resolvePath(dir);
  const files = encodeCheckpoint(target, state);
  try {
    await mkdir(dirname(target), { recursive: true });
    if (await exists(target)) {
      // Never swap away a directory that is not a checkpoint (a typo could name a home directory).
      if (!(await stat(target)).isDirectory()) throw new CheckpointError(`cannot save checkpoint ${target}: it exists and is not a directory`);
      const entries = await readdir(target);
      if (entries.length > 0 && !entries.includes(CHECKPOINT_FILES.meta)) {
        throw new CheckpointError(`cannot save checkpoint ${target}: the directory exists and is not a checkpoint (no ${CHECKPOINT_FILES.meta}); refusing to replace it`);
      }
    }
  } catch (e) {
    throw fsError(e, `cannot save checkpoint ${target}`);
  }

  const tmp = tempSibling(target);
  try {
    await mkdir(tmp);
    for (const [k, data] of Object.entries(files)) await writeDurably(join(tmp, CHECKPOINT_FILES[k as keyof typeof CHECKPOINT_FILES]), data);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw fsError(e, `cannot save checkpoint ${target}: writing ${tmp}`);
  }
  try {
    await commitDirectory(tmp, target, options.hooks);
  } catch (e) {
    // No cleanup: whatever the commit left is what a crash would leave, and loading handles it.
    throw fsError(e, `cannot save checkpoint ${target}: committing ${tmp}`);
  }
  return target;
}

async function readChecked(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`${path}: file is missing`);
    throw fsError(e, `${path}: cannot read`);
  }
}

async function readJSON(path: string): Promise<unknown> {
  const text = (await readChecked(path)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

const listNames = (names: readonly string[]) => {
  const shown = names.slice(0, 10).map((n) => `"${n}"`).join(', ');
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
};

/**
 * Load a checkpoint: rebuild the graph, check the weights against it, put them on `backend`.
 *
 *   const { graph, params, meta } = await loadCheckpoint('runs/lm/ckpt', { resolve: (kind) => registry.get(kind) });
 *   const runtime = new Runtime(graph, { params });
 */
export async function loadCheckpoint(dir: string, options: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const target = resolvePath(dir);
  const from = await recoverableDirectory(target);
  if (!from) throw new CheckpointError(`${target}: checkpoint directory does not exist`);
  if (!(await stat(from)).isDirectory()) throw new CheckpointError(`${from}: not a directory, so not a checkpoint`);
  const path = (k: keyof typeof CHECKPOINT_FILES) => join(from, CHECKPOINT_FILES[k]);

  const meta = parseCheckpointMeta(await readJSON(path('meta')), path('meta'));

  const graphJSON = await readJSON(path('graph'));
  let graph: Graph;
  try {
    graph = graphFromJSON(graphJSON as never, options.resolve);
  } catch (e) {
    // The file is untrusted: a malformed graph.json may fail anywhere in graphFromJSON.
    throw new CheckpointError(`${path('graph')}: cannot rebuild the graph: ${(e as Error).message}`);
  }

  const weightsFile = path('weights');
  const weights = decodeSafetensors(await readChecked(weightsFile), weightsFile).tensors;
  const declared = new Set<string>();
  for (const { node, spec } of graph.params()) {
    const key = paramKey(node, spec.name);
    declared.add(key);
    const what = `parameter "${spec.name}" of ${graph.node(node).layer.kind} node "${node}"`;
    const t = weights.get(key);
    if (!t) throw new CheckpointError(`${weightsFile}: missing tensor "${key}" (${what}, shape ${formatShape(spec.shape)})`);
    if (t.dtype !== 'F32') throw new CheckpointError(`${weightsFile}: tensor "${key}" has dtype ${t.dtype}, expected F32 (${what})`);
    if (!sameShape(t.shape, spec.shape)) {
      throw new CheckpointError(`${weightsFile}: tensor "${key}" has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)} (${what})`);
    }
  }
  const unexpected = [...weights.keys()].filter((k) => !declared.has(k));
  if (unexpected.length > 0) throw new CheckpointError(`${weightsFile}: tensors the graph does not declare: ${listNames(unexpected)}`);

  const optimizerFile = path('optimizer');
  const optimizerTensors = decodeSafetensors(await readChecked(optimizerFile), optimizerFile).tensors;
  for (const [name, t] of optimizerTensors) {
    if (!FROM_SAFETENSORS[t.dtype]) throw new CheckpointError(`${optimizerFile}: tensor "${name}" has dtype ${t.dtype}; optimizer state is F32, I32 or BOOL`);
  }
  if (!meta.optimizer && optimizerTensors.size > 0) {
    throw new CheckpointError(`${optimizerFile}: holds ${optimizerTensors.size} tensors, but ${path('meta')} has no "optimizer" entry naming their optimizer`);
  }

  // Everything is checked: only now make tensors, so a bad checkpoint leaks none.
  const backend = options.backend ?? getBackend();
  const params = new ParamStore(graph);
  for (const key of declared) {
    const t = weights.get(key)!;
    params.set(key, tensor(t.data, t.shape, 'float32', backend));
  }
  let optimizerState: CheckpointOptimizerState | undefined;
  if (meta.optimizer) {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of optimizerTensors) tensors.set(name, keep(tensor(t.data, t.shape, FROM_SAFETENSORS[t.dtype], backend)));
    optimizerState = { name: meta.optimizer.name, meta: meta.optimizer.meta, tensors };
  }
  return { graph, params, optimizerState, meta, loadedFrom: from };
}
