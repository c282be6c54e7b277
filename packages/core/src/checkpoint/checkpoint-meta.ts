// meta.json of a checkpoint: the format version, where training stood (step, epoch, RNG), the
// tokenizer, the optimizer's name and scalar settings, and whatever else the trainer adds.
// Validated field by field on load, each problem a CheckpointError naming the file.

import { CheckpointError } from '../errors.js';
import { CharTokenizer } from '../data/char-tokenizer.js';

/** meta.json's `format`: how a folder is recognised as a Ganglion checkpoint. */
export const CHECKPOINT_FORMAT = 'ganglion-checkpoint';
/** 2: `format` and the `files` manifest; 1 (still read): neither. */
export const CHECKPOINT_FORMAT_VERSION = 2;

export type OptimizerMetaValue = number | string | boolean;

/** What a trainer passes to `saveCheckpoint` (extra keys are kept as they are). */
export interface CheckpointMetaInput {
  readonly step: number;
  readonly epoch: number;
  readonly rng?: { readonly seed: number; readonly counter: number };
  /**
   * The tokenizer's JSON (any kind: `Tokenizer.toJSON()`); a save writes it to tokenizer.json and
   * keeps `{ file: "tokenizer.json" }` here. Checkpoints before that hold a character tokenizer inline.
   */
  readonly tokenizer?: object;
  readonly [extra: string]: unknown;
}

/** meta.json's `tokenizer` when the tokenizer lives in its own file. */
export const TOKENIZER_FILE_REF = { file: 'tokenizer.json' } as const;

/** meta.json as written and as loaded. */
export interface CheckpointMeta extends CheckpointMetaInput {
  readonly format?: typeof CHECKPOINT_FORMAT;
  readonly formatVersion: 1 | typeof CHECKPOINT_FORMAT_VERSION;
  /** Size and sha256 of the other files (format 2). */
  readonly files?: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
  readonly optimizer?: { readonly name: string; readonly meta: Readonly<Record<string, OptimizerMetaValue>> };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Throws a CheckpointError (prefixed with `file`) unless every optimizer meta value is a finite number, a string or a boolean. */
export function checkOptimizerMeta(meta: unknown, file: string): Record<string, OptimizerMetaValue> {
  if (!isObject(meta))
    throw new CheckpointError(`${file}: optimizer meta is ${JSON.stringify(meta)}, expected an object`);
  for (const [k, v] of Object.entries(meta)) {
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok)
      throw new CheckpointError(
        `${file}: optimizer meta "${k}" is ${typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? typeof v)}, expected a finite number, a string or a boolean`,
      );
  }
  return meta as Record<string, OptimizerMetaValue>;
}

/** Check parsed meta.json; `file` names it in errors. */
export function parseCheckpointMeta(json: unknown, file: string): CheckpointMeta {
  const fail: (problem: string) => never = (problem) => {
    throw new CheckpointError(`${file}: ${problem}`);
  };
  if (!isObject(json)) return fail(`expected a JSON object, got ${JSON.stringify(json)}`);
  if (!('formatVersion' in json)) fail('has no "formatVersion"; not a Ganglion checkpoint');
  if (json.formatVersion !== 1 && json.formatVersion !== CHECKPOINT_FORMAT_VERSION)
    fail(
      `formatVersion ${JSON.stringify(json.formatVersion)} is not supported (this version reads 1 and ${CHECKPOINT_FORMAT_VERSION})`,
    );
  if (json.formatVersion === CHECKPOINT_FORMAT_VERSION) {
    if (json.format !== CHECKPOINT_FORMAT)
      fail(`"format" is ${JSON.stringify(json.format)}, expected "${CHECKPOINT_FORMAT}"`);
    if (!isObject(json.files)) fail('has no "files" entry (the sizes and checksums of the checkpoint\'s files)');
  }
  for (const k of ['step', 'epoch'] as const)
    if (!isCount(json[k])) fail(`"${k}" is ${JSON.stringify(json[k])}, expected a non-negative integer`);
  // Fields the trainer and the CLI write: in range when present.
  for (const k of ['batchInEpoch'] as const)
    if (json[k] !== undefined && !isCount(json[k]))
      fail(`"${k}" is ${JSON.stringify(json[k])}, expected a non-negative integer`);
  for (const k of ['seqLen', 'batchSize', 'maxVocab'] as const) {
    const v = json[k];
    if (v !== undefined && !(isCount(v) && v >= 1))
      fail(`"${k}" is ${JSON.stringify(v)}, expected a whole number >= 1`);
  }
  if (json.seed !== undefined && !(typeof json.seed === 'number' && Number.isSafeInteger(json.seed)))
    fail(`"seed" is ${JSON.stringify(json.seed)}, expected a whole number`);
  for (const k of ['preset', 'corpus', 'corpusPath', 'corpusFingerprint'] as const)
    if (json[k] !== undefined && typeof json[k] !== 'string')
      fail(`"${k}" is ${JSON.stringify(json[k])}, expected a string`);
  if (json.rng !== undefined) {
    const r = json.rng;
    if (!isObject(r) || typeof r.seed !== 'number' || !Number.isFinite(r.seed) || !isCount(r.counter))
      fail(`"rng" is ${JSON.stringify(r)}, expected { seed: number, counter: non-negative integer }`);
  }
  if (json.tokenizer !== undefined && !(isObject(json.tokenizer) && json.tokenizer.file === TOKENIZER_FILE_REF.file)) {
    // Inline: a character tokenizer, as checkpoints held it before tokenizer.json.
    try {
      CharTokenizer.fromJSON(json.tokenizer);
    } catch (e) {
      fail(`"tokenizer": ${(e as Error).message}`);
    }
  }
  if (json.optimizer !== undefined) {
    const o = json.optimizer;
    if (!isObject(o) || typeof o.name !== 'string')
      fail(`"optimizer" is ${JSON.stringify(o)}, expected { name: string, meta: {...} }`);
    const om = checkOptimizerMeta((o as Record<string, unknown>).meta, file);
    if (om.step !== undefined && !isCount(om.step))
      fail(`optimizer meta "step" is ${JSON.stringify(om.step)}, expected a non-negative integer`);
  }
  return json as CheckpointMeta;
}
