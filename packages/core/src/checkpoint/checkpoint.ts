// Checkpoints: a directory with
//   graph.json             graph.toJSON()
//   weights.safetensors    one F32 tensor per parameter, named `<node>.<param>` (ParamStore keys)
//   optimizer.safetensors  the optimizer's state tensors, e.g. `<node>.<param>.<slot>` (always written)
//   meta.json              { format: 'ganglion-checkpoint', formatVersion: 2, step, epoch, rng?,
//                            tokenizer?, optimizer?, files (sizes and sha256 of the others), ...extra }
// Saves replace only these files (checkpoint-dir.ts explains how, what a crash at each moment
// leaves, and the lock); everything else in the folder is the user's. Loading reads one complete
// save and checks every file against the graph (shapes, finite values, optimizer slots), throwing a
// CheckpointError naming the file and the problem. Weights are float32 as in real models: on the
// float64 reference backend a save rounds parameters to float32.

import { join, resolve as resolvePath } from 'node:path';
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
import { type CommitHooks, STORE_DIR, checkpointDirStatus, readGeneration, writeGeneration } from './checkpoint-dir.js';
import {
  type CheckpointMeta,
  type CheckpointMetaInput,
  type OptimizerMetaValue,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  TOKENIZER_FILE_REF,
  checkOptimizerMeta,
  parseCheckpointMeta,
} from './checkpoint-meta.js';
import { type SafetensorsDType, type SafetensorsTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';

export const CHECKPOINT_FILES = {
  graph: 'graph.json',
  weights: 'weights.safetensors',
  optimizer: 'optimizer.safetensors',
  meta: 'meta.json',
  /** Written when the meta has a tokenizer: its JSON (a Hugging Face tokenizer.json where the kind is one). */
  tokenizer: 'tokenizer.json',
} as const;

/** True when `name`, an entry of a checkpoint directory, belongs to Ganglion (a save replaces it). */
export const isCheckpointFile = (name: string): boolean =>
  (Object.values(CHECKPOINT_FILES) as string[]).includes(name) || name === STORE_DIR;

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
  /** The folder read: the one asked for, a complete earlier save inside it, or a format-1 `<dir>.old-*`. */
  readonly loadedFrom: string;
  /** Why the top-level files were not read (an interrupted save), when they were not. */
  readonly recovered?: string;
  /** The tokenizer's JSON (from tokenizer.json, or inline in an older meta.json); absent when it was saved without one. */
  readonly tokenizer?: unknown;
}

const TO_SAFETENSORS: Record<DType, SafetensorsDType> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
const FROM_SAFETENSORS: Partial<Record<SafetensorsDType, DType>> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
const TYPED = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

const safetensorsOf = (t: Tensor): SafetensorsTensor => ({
  dtype: TO_SAFETENSORS[t.dtype],
  shape: t.shape as number[],
  data: TYPED[t.dtype].from(t.dataSync()),
});

const isTokenizerFileRef = (t: unknown): boolean =>
  t !== null && typeof t === 'object' && (t as { file?: unknown }).file === TOKENIZER_FILE_REF.file;

/** Turn a file-system error into a CheckpointError; anything else (a test hook's crash) passes. */
function fsError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? new CheckpointError(`${what}: ${(e as Error).message}`) : e;
}

/** The checkpoint's files as bytes, validated before anything touches the disk. */
function encodeCheckpoint(
  dir: string,
  state: CheckpointState,
): { files: Record<string, Uint8Array | string>; meta: Record<string, unknown> } {
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
    if (!sameShape(t.shape, spec.shape))
      fail(`parameter "${key}" has shape ${formatShape(t.shape)}, but the graph declares ${formatShape(spec.shape)}`);
    weights.set(key, { dtype: 'F32', shape: spec.shape, data: Float32Array.from(t.dataSync()) });
  }
  const extra = params.keys().filter((k) => !declared.has(k));
  if (extra.length > 0)
    fail(`the ParamStore holds parameters the graph does not declare: ${extra.map((k) => `"${k}"`).join(', ')}`);

  const { formatVersion, optimizer, ...rest } = state.meta as CheckpointMetaInput & {
    formatVersion?: unknown;
    optimizer?: unknown;
  };
  if (formatVersion !== undefined || optimizer !== undefined)
    fail('meta "formatVersion" and "optimizer" are written by saveCheckpoint; pass the optimizer as optimizerState');
  const optimizerTensors = new Map<string, SafetensorsTensor>();
  let optimizerMeta: CheckpointMeta['optimizer'];
  if (optimizerState) {
    if (typeof optimizerState.name !== 'string' || optimizerState.name === '')
      fail('optimizerState.name must be a non-empty string');
    optimizerMeta = {
      name: optimizerState.name,
      meta: checkOptimizerMeta(optimizerState.meta, `cannot save checkpoint ${dir}`),
    };
    for (const [name, t] of optimizerState.tensors) optimizerTensors.set(name, safetensorsOf(t));
  }
  const { format: _format, files: _files, tokenizer, ...user } = rest as Record<string, unknown>;
  if (tokenizer !== undefined && (tokenizer === null || typeof tokenizer !== 'object' || Array.isArray(tokenizer)))
    fail(`meta "tokenizer" must be the tokenizer's JSON object, got ${JSON.stringify(tokenizer)}`);
  const meta = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    ...user,
    ...(tokenizer ? { tokenizer: TOKENIZER_FILE_REF } : {}),
    ...(optimizerMeta ? { optimizer: optimizerMeta } : {}),
  };
  // What the loader will see (NaN became null, undefined vanished) must pass the loader's checks.
  const roundTripped = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
  parseCheckpointMeta({ ...roundTripped, files: {} }, `cannot save checkpoint ${dir}: meta.json`);
  return {
    files: {
      [CHECKPOINT_FILES.weights]: encodeSafetensors(weights),
      [CHECKPOINT_FILES.optimizer]: encodeSafetensors(optimizerTensors),
      [CHECKPOINT_FILES.graph]: `${JSON.stringify(graph.toJSON(), null, 2)}\n`,
      ...(tokenizer ? { [CHECKPOINT_FILES.tokenizer]: `${JSON.stringify(tokenizer, null, 2)}\n` } : {}),
    },
    meta: roundTripped,
  };
}

/**
 * Save a checkpoint to `dir`, replacing only the checkpoint's own files (see checkpoint-dir.ts);
 * refuses a folder Ganglion did not write. Returns the absolute path.
 *
 *   await saveCheckpoint('runs/lm/ckpt', { graph, params: runtime.params, meta: { step, epoch, rng: rng.state } });
 */
export async function saveCheckpoint(
  dir: string,
  state: CheckpointState,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const target = resolvePath(dir);
  const { files, meta } = encodeCheckpoint(target, state);
  const status = await checkpointDirStatus(target).catch((e: unknown) => {
    throw new CheckpointError(`cannot save checkpoint ${(e as Error).message}`);
  });
  if (status.kind === 'foreign')
    throw new CheckpointError(
      `cannot save checkpoint ${target}: the folder is not a Ganglion checkpoint (${status.reason}); refusing to write into it`,
    );
  try {
    await writeGeneration(target, files, meta, options.hooks);
  } catch (e) {
    throw fsError(e, `cannot save checkpoint ${target}`);
  }
  return target;
}

/** A NaN or infinite value in a saved tensor is an error naming it: it would poison training or output. */
function checkFinite(file: string, name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw new CheckpointError(
        `${file}: tensor "${name}" holds ${data[i]} at flat index ${i}; a checkpoint's values must be finite`,
      );
  }
}

/**
 * Optimizer state is per-parameter slots named `<node>.<param>.<slot>` (Adam's m and v, a
 * momentum buffer), each shaped like its parameter. A parameter may have no slots (it got no
 * gradient yet), but one that has some has every slot name the others have.
 */
function checkSlots(
  file: string,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  params: ReadonlyMap<string, readonly number[]>,
): void {
  const slotsOf = new Map<string, Set<string>>();
  for (const [name, t] of tensors) {
    const dot = name.lastIndexOf('.');
    const key = name.slice(0, Math.max(dot, 0));
    const shape = params.get(key);
    if (!shape)
      throw new CheckpointError(
        `${file}: tensor "${name}" is not a slot of any parameter of the graph (expected "<node>.<param>.<slot>")`,
      );
    if (!sameShape(t.shape, shape))
      throw new CheckpointError(
        `${file}: tensor "${name}" has shape ${formatShape(t.shape)}, but parameter "${key}" has shape ${formatShape(shape)}`,
      );
    if (t.dtype === 'F32') checkFinite(file, name, t.data as Float32Array);
    slotsOf.set(key, (slotsOf.get(key) ?? new Set()).add(name.slice(dot + 1)));
  }
  const all = new Set([...slotsOf.values()].flatMap((s) => [...s]));
  for (const [key, slots] of slotsOf) {
    const missing = [...all].filter((s) => !slots.has(s));
    if (missing.length > 0)
      throw new CheckpointError(
        `${file}: missing tensor "${key}.${missing[0]}" (parameter "${key}" has slots ${[...slots].map((x) => `"${x}"`).join(', ')} but not ${missing.map((x) => `"${x}"`).join(', ')})`,
      );
  }
}

const listNames = (names: readonly string[]) => {
  const shown = names
    .slice(0, 10)
    .map((n) => `"${n}"`)
    .join(', ');
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
  const read = await readGeneration(
    target,
    [CHECKPOINT_FILES.graph, CHECKPOINT_FILES.weights, CHECKPOINT_FILES.optimizer],
    [CHECKPOINT_FILES.tokenizer],
  );
  const from = read.from;
  const path = (k: keyof typeof CHECKPOINT_FILES) => join(from, CHECKPOINT_FILES[k]);
  const bytes = (k: 'graph' | 'weights' | 'optimizer') => read.files.get(CHECKPOINT_FILES[k])!;

  const meta = parseCheckpointMeta(read.meta, path('meta'));

  let graphJSON: unknown;
  try {
    graphJSON = JSON.parse(bytes('graph').toString('utf8'));
  } catch (e) {
    throw new CheckpointError(`${path('graph')}: not valid JSON (${(e as Error).message})`);
  }
  let graph: Graph;
  try {
    graph = graphFromJSON(graphJSON as never, options.resolve);
  } catch (e) {
    // The file is untrusted: a malformed graph.json may fail anywhere in graphFromJSON.
    throw new CheckpointError(`${path('graph')}: cannot rebuild the graph: ${(e as Error).message}`);
  }

  const weightsFile = path('weights');
  const weights = decodeSafetensors(bytes('weights'), weightsFile).tensors;
  const declared = new Set<string>();
  for (const { node, spec } of graph.params()) {
    const key = paramKey(node, spec.name);
    declared.add(key);
    const what = `parameter "${spec.name}" of ${graph.node(node).layer.kind} node "${node}"`;
    const t = weights.get(key);
    if (!t)
      throw new CheckpointError(`${weightsFile}: missing tensor "${key}" (${what}, shape ${formatShape(spec.shape)})`);
    if (t.dtype !== 'F32')
      throw new CheckpointError(`${weightsFile}: tensor "${key}" has dtype ${t.dtype}, expected F32 (${what})`);
    if (!sameShape(t.shape, spec.shape)) {
      throw new CheckpointError(
        `${weightsFile}: tensor "${key}" has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)} (${what})`,
      );
    }
    checkFinite(weightsFile, key, t.data);
  }
  const unexpected = [...weights.keys()].filter((k) => !declared.has(k));
  if (unexpected.length > 0)
    throw new CheckpointError(`${weightsFile}: tensors the graph does not declare: ${listNames(unexpected)}`);

  const optimizerFile = path('optimizer');
  const optimizerTensors = decodeSafetensors(bytes('optimizer'), optimizerFile).tensors;
  for (const [name, t] of optimizerTensors) {
    if (!FROM_SAFETENSORS[t.dtype])
      throw new CheckpointError(
        `${optimizerFile}: tensor "${name}" has dtype ${t.dtype}; optimizer state is F32, I32 or BOOL`,
      );
  }
  if (!meta.optimizer && optimizerTensors.size > 0) {
    throw new CheckpointError(
      `${optimizerFile}: holds ${optimizerTensors.size} tensors, but ${path('meta')} has no "optimizer" entry naming their optimizer`,
    );
  }
  checkSlots(
    optimizerFile,
    optimizerTensors,
    new Map(graph.params().map(({ node, spec }) => [paramKey(node, spec.name), spec.shape as readonly number[]])),
  );

  let tokenizer: unknown = meta.tokenizer;
  if (isTokenizerFileRef(meta.tokenizer)) {
    const file = join(from, CHECKPOINT_FILES.tokenizer);
    const data = read.files.get(CHECKPOINT_FILES.tokenizer);
    if (!data)
      throw new CheckpointError(`${path('meta')}: names ${CHECKPOINT_FILES.tokenizer}, but "files" does not list it`);
    try {
      tokenizer = JSON.parse(data.toString('utf8'));
    } catch (e) {
      throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
    }
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
    for (const [name, t] of optimizerTensors)
      tensors.set(name, keep(tensor(t.data, t.shape, FROM_SAFETENSORS[t.dtype], backend)));
    optimizerState = { name: meta.optimizer.name, meta: meta.optimizer.meta, tensors };
  }
  return {
    graph,
    params,
    optimizerState,
    meta,
    loadedFrom: from,
    ...(read.recovered ? { recovered: read.recovered } : {}),
    ...(tokenizer !== undefined ? { tokenizer } : {}),
  };
}
