// Checkpoints as bytes: a checkpoint is a few files
//   graph.json             graph.toJSON()
//   weights.safetensors    one F32 tensor per parameter, named `<node>.<param>` (ParamStore keys)
//   optimizer.safetensors  the optimizer's state tensors, e.g. `<node>.<param>.<slot>` (always written)
//   tokenizer.json         the tokenizer's JSON, when the meta has one
//   meta.json              { format: 'ganglion-checkpoint', formatVersion: 2, step, epoch, rng?,
//                            tokenizer?, optimizer?, files (sizes and sha256 of the others), ...extra }
// `checkpointFiles` turns a graph, its parameters and optimizer state into those files' bytes, and
// `checkpointFromFiles` checks and loads them back; neither touches a disk, so the same code runs
// in a browser (files kept in memory, OPFS, or a download) and on Node, where `@ganglion/core/node`
// writes them into a folder atomically and reads them back (node/checkpoint-folder.ts). Loading
// checks every file against the graph (shapes, finite values, optimizer slots), throwing a
// CheckpointError naming the file and the problem. Weights are float32 as in real models: on the
// float64 reference backend a save rounds parameters to float32.

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
import { sha256Hex } from './sha256.js';

export const CHECKPOINT_FILES = {
  graph: 'graph.json',
  weights: 'weights.safetensors',
  optimizer: 'optimizer.safetensors',
  meta: 'meta.json',
  /** Written when the meta has a tokenizer: its JSON (a Hugging Face tokenizer.json where the kind is one). */
  tokenizer: 'tokenizer.json',
} as const;

/** Ganglion's own folder inside a checkpoint directory on disk (generations and the lock). */
export const STORE_DIR = '.ganglion';

/** True when `name`, an entry of a checkpoint directory, belongs to Ganglion (a save replaces it). */
export const isCheckpointFile = (name: string): boolean =>
  (Object.values(CHECKPOINT_FILES) as string[]).includes(name) || name === STORE_DIR;

/** A checkpoint's files by name (graph.json, weights.safetensors, …, meta.json), as bytes. */
export type CheckpointFiles = Readonly<Record<string, Uint8Array>>;

/**
 * Where checkpoints go: a folder on disk (`checkpointFolder` in `@ganglion/core/node`), or in a
 * browser OPFS, IndexedDB or a download. A store writes one complete checkpoint at a time.
 */
export interface CheckpointStore {
  /** Where this store writes, for messages (a folder's absolute path, a download's name). */
  readonly location: string;
  /** Write the files of one checkpoint (as `checkpointFiles` made them); resolves to where they went. */
  write(files: CheckpointFiles): Promise<string>;
}

/** Size and SHA-256 of each file of a checkpoint, as meta.json's `files` entry holds them. */
export type Manifest = Record<string, { readonly bytes: number; readonly sha256: string }>;

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
  /** The checkpoint read: on disk the folder (the one asked for, a complete earlier save inside it, or a format-1 `<dir>.old-*`). */
  readonly loadedFrom: string;
  /** Why the top-level files were not read (an interrupted save), when they were not. */
  readonly recovered?: string;
  /** The tokenizer's JSON (from tokenizer.json, or inline in an older meta.json); absent when it was saved without one. */
  readonly tokenizer?: unknown;
}

const TO_SAFETENSORS: Record<DType, SafetensorsDType> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
const FROM_SAFETENSORS: Partial<Record<SafetensorsDType, DType>> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
const TYPED = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;
const utf8 = new TextDecoder('utf-8', { fatal: false });
const encodeText = (s: string): Uint8Array => new TextEncoder().encode(s);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const safetensorsOf = (t: Tensor): SafetensorsTensor => ({
  dtype: TO_SAFETENSORS[t.dtype],
  shape: t.shape as number[],
  data: TYPED[t.dtype].from(t.dataSync()),
});

const isTokenizerFileRef = (t: unknown): boolean =>
  t !== null && typeof t === 'object' && (t as { file?: unknown }).file === TOKENIZER_FILE_REF.file;

/** The manifest of `files`: each one's size and SHA-256. */
function manifestOf(files: CheckpointFiles): Manifest {
  const manifest: Manifest = {};
  for (const [name, data] of Object.entries(files))
    manifest[name] = { bytes: data.byteLength, sha256: sha256Hex(data) };
  return manifest;
}

/** meta.json's bytes: `meta` with the manifest of `files` as its `files` entry. */
function metaFileBytes(meta: Readonly<Record<string, unknown>>, files: CheckpointFiles): Uint8Array {
  return encodeText(`${JSON.stringify({ ...meta, files: manifestOf(files) }, null, 2)}\n`);
}

export interface CheckpointFilesOptions {
  /** Names the checkpoint in errors (a folder, a download); default "(in memory)". */
  readonly name?: string;
}

/**
 * A checkpoint's files as bytes, validated: graph.json, weights.safetensors,
 * optimizer.safetensors, tokenizer.json when the meta has a tokenizer, and meta.json (written
 * last on disk) listing the others' sizes and SHA-256. The same bytes a folder on disk holds.
 *
 *   const files = checkpointFiles({ graph, params: runtime.params, meta: { step, epoch } });
 *   const blob = new Blob([files['weights.safetensors']]); // a download, OPFS, …
 */
export function checkpointFiles(state: CheckpointState, options: CheckpointFilesOptions = {}): CheckpointFiles {
  const name = options.name ?? '(in memory)';
  const { graph, params, optimizerState } = state;
  const fail = (problem: string): never => {
    throw new CheckpointError(`cannot save checkpoint ${name}: ${problem}`);
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
      meta: checkOptimizerMeta(optimizerState.meta, `cannot save checkpoint ${name}`),
    };
    for (const [key, t] of optimizerState.tensors) optimizerTensors.set(key, safetensorsOf(t));
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
  parseCheckpointMeta({ ...roundTripped, files: {} }, `cannot save checkpoint ${name}: meta.json`);
  const files: Record<string, Uint8Array> = {
    [CHECKPOINT_FILES.weights]: encodeSafetensors(weights),
    [CHECKPOINT_FILES.optimizer]: encodeSafetensors(optimizerTensors),
    [CHECKPOINT_FILES.graph]: encodeText(`${JSON.stringify(graph.toJSON(), null, 2)}\n`),
    ...(tokenizer ? { [CHECKPOINT_FILES.tokenizer]: encodeText(`${JSON.stringify(tokenizer, null, 2)}\n`) } : {}),
  };
  return { ...files, [CHECKPOINT_FILES.meta]: metaFileBytes(roundTripped, files) };
}

/**
 * Write a checkpoint to `store` (a folder on disk, OPFS, a download); resolves to where it went.
 *
 *   await saveCheckpointTo(checkpointFolder('runs/lm/ckpt'), { graph, params, meta: { step, epoch } });
 */
export async function saveCheckpointTo(store: CheckpointStore, state: CheckpointState): Promise<string> {
  return store.write(checkpointFiles(state, { name: store.location }));
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

/** The files of a checkpoint as read, before they are checked against each other. */
export interface CheckpointRead {
  /** Where they were read from: names the files in errors (`<from>/weights.safetensors`). */
  readonly from: string;
  /** meta.json, parsed. */
  readonly meta: unknown;
  /** The other files by name (graph.json, weights.safetensors, optimizer.safetensors, tokenizer.json). */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Load a checkpoint from its files' bytes (a browser's upload, OPFS, a fetch): checks meta.json's
 * manifest (sizes and SHA-256) when it has one, then rebuilds the graph and checks the weights
 * against it as `loadCheckpoint` does. `name` says where the files came from in errors.
 *
 *   const { graph, params, tokenizer } = checkpointFromFiles(files, { resolve: (kind) => registry.get(kind) });
 */
export function checkpointFromFiles(
  files: CheckpointFiles,
  options: LoadCheckpointOptions & { readonly name?: string },
): LoadedCheckpoint {
  const from = options.name ?? '(in memory)';
  const metaPath = `${from}/${CHECKPOINT_FILES.meta}`;
  const metaBytes = files[CHECKPOINT_FILES.meta];
  if (!metaBytes) throw new CheckpointError(`${metaPath}: file is missing`);
  let meta: unknown;
  try {
    meta = JSON.parse(utf8.decode(metaBytes));
  } catch (e) {
    throw new CheckpointError(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
  const manifest = isObject(meta) && isObject(meta.files) ? meta.files : undefined;
  const read = new Map<string, Uint8Array>();
  const names = [CHECKPOINT_FILES.graph, CHECKPOINT_FILES.weights, CHECKPOINT_FILES.optimizer];
  const optional =
    manifest?.[CHECKPOINT_FILES.tokenizer] !== undefined || !manifest ? [CHECKPOINT_FILES.tokenizer] : [];
  for (const name of [...names, ...optional]) {
    const data = files[name];
    if (!data) {
      if ((names as string[]).includes(name)) throw new CheckpointError(`${from}/${name}: file is missing`);
      continue;
    }
    const entry = manifest?.[name];
    if (manifest) {
      if (!isObject(entry) || typeof entry.sha256 !== 'string' || typeof entry.bytes !== 'number')
        throw new CheckpointError(`${metaPath}: "files" has no size and sha256 for ${name}`);
      if (data.byteLength !== entry.bytes || sha256Hex(data) !== entry.sha256)
        throw new CheckpointError(
          `${from}/${name}: ${data.byteLength !== entry.bytes ? `${data.byteLength} bytes, but meta.json says ${entry.bytes}` : 'its sha256 does not match meta.json'} (the file was changed after it was saved)`,
        );
    }
    read.set(name, data);
  }
  return decodeCheckpoint({ from, meta, files: read }, options);
}

/**
 * Check a checkpoint's files against each other and load them: rebuild the graph, check the
 * weights against it, put them on `backend`. The bytes are trusted to be what was saved (the
 * caller checked meta.json's manifest); everything else is checked here.
 */
export function decodeCheckpoint(read: CheckpointRead, options: LoadCheckpointOptions): LoadedCheckpoint {
  const from = read.from;
  const path = (k: keyof typeof CHECKPOINT_FILES) => `${from}/${CHECKPOINT_FILES[k]}`;
  const bytes = (k: 'graph' | 'weights' | 'optimizer') => read.files.get(CHECKPOINT_FILES[k])!;

  const meta = parseCheckpointMeta(read.meta, path('meta'));

  let graphJSON: unknown;
  try {
    graphJSON = JSON.parse(utf8.decode(bytes('graph')));
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
    const file = path('tokenizer');
    const data = read.files.get(CHECKPOINT_FILES.tokenizer);
    if (!data)
      throw new CheckpointError(`${path('meta')}: names ${CHECKPOINT_FILES.tokenizer}, but "files" does not list it`);
    try {
      tokenizer = JSON.parse(utf8.decode(data));
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
    ...(tokenizer !== undefined ? { tokenizer } : {}),
  };
}
