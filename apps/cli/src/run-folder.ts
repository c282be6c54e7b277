// The folder `ganglion train --out` writes: checked before any training starts, and locked for the
// whole run. Ganglion writes only into a new or empty folder, or one holding its own checkpoint
// (continued with --resume, replaced with --overwrite); resuming refuses settings that disagree
// with the checkpoint instead of silently training something else.
import { resolve } from 'node:path';
import { CheckpointError, type CheckpointMeta } from '@ganglion/core';
import {
  type CheckpointLock,
  checkpointDirStatus,
  lockCheckpointDir,
  makeDirs,
  recoverableDirectory,
} from '@ganglion/core/node';
import { UsageError } from './args.js';

export interface RunFolder {
  readonly path: string;
  /** True when the folder holds a checkpoint to continue (with --resume). */
  readonly resume: boolean;
  readonly lock: CheckpointLock;
  /** True when this run made the folder (it did not exist): a run that fails before its first save removes it again. */
  readonly created: boolean;
}

const fsMessage = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') return 'it is not writable';
  if (err.code === 'ENOTDIR') return 'a part of the path is a file, not a folder';
  if (err.code === 'ENOENT') return 'the folder cannot be created there';
  return err.message;
};

/**
 * Check `--out` and take its lock, before anything is trained or written. Throws a UsageError
 * naming the folder for: a file, a folder Ganglion did not write, an existing checkpoint without
 * --resume or --overwrite, --resume without a checkpoint, a folder that cannot be written, and a
 * folder another training holds.
 */
export async function openRunFolder(out: string, opts: { resume: boolean; overwrite: boolean }): Promise<RunFolder> {
  const path = resolve(out);
  if (opts.resume && opts.overwrite)
    throw new UsageError('--resume and --overwrite: choose one (continue the checkpoint, or replace it)');
  let status;
  try {
    status = await checkpointDirStatus(path);
  } catch (e) {
    throw new UsageError(`--out ${path}: ${(e as Error).message.replace(`${path}: `, '')}`);
  }
  if (status.kind === 'foreign') {
    throw new UsageError(
      `--out ${path}: the folder is not a Ganglion checkpoint (${status.reason}); refusing to write into it. Choose a new or empty folder`,
    );
  }
  // A format-1 save interrupted between its renames left `<out>.old-*` and no `out`: loading recovers it.
  if (opts.resume && status.kind !== 'checkpoint' && [undefined, path].includes(await recoverableDirectory(path)))
    throw new UsageError(`--resume: ${path} holds no checkpoint to resume; train without --resume to start one`);
  if (!opts.resume && !opts.overwrite && status.kind === 'checkpoint') {
    throw new UsageError(
      `--out ${path} already holds a checkpoint; pass --resume to continue it, or --overwrite to replace it`,
    );
  }
  try {
    await makeDirs(path);
  } catch (e) {
    throw new UsageError(`--out ${path}: ${fsMessage(e)}`);
  }
  let lock: CheckpointLock;
  try {
    lock = await lockCheckpointDir(path);
  } catch (e) {
    if (e instanceof CheckpointError && /is in use/.test(e.message)) throw new UsageError(`--out ${e.message}`);
    throw new UsageError(
      `--out ${path}: ${fsMessage((e as { cause?: unknown }).cause ?? e).replace(/^cannot lock [^:]*: /, '')}`,
    );
  }
  return { path, resume: opts.resume, lock, created: status.kind === 'absent' };
}

/** What a run is trained with, as the checkpoint's meta.json records it. */
export interface RunSettings {
  readonly preset: string;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly seed: number;
  readonly corpus: string;
  readonly corpusFingerprint: string;
}

const FLAG_OF: Record<keyof RunSettings, string> = {
  preset: '--preset',
  batchSize: '--batch',
  seqLen: '--seq-len',
  seed: '--seed',
  corpus: '--corpus',
  corpusFingerprint: '--corpus',
};

/**
 * The settings a resumed run continues with: the checkpoint's, where a flag does not say otherwise;
 * a flag that disagrees is refused, naming the field and both values (changing any of them would
 * silently train a different run).
 */
export function resumeSettings(
  meta: CheckpointMeta,
  given: Partial<Record<keyof RunSettings, string | number>>,
  dir: string,
): Partial<RunSettings> {
  const saved = meta as unknown as Partial<Record<keyof RunSettings, unknown>>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(FLAG_OF) as (keyof RunSettings)[]) {
    const was = saved[key];
    const now = given[key];
    // Paths may be spelled differently: the corpus is compared by its fingerprint.
    if (key !== 'corpus' && now !== undefined && was !== undefined && now !== was) {
      const what =
        key === 'corpusFingerprint'
          ? 'the corpus text differs from the one the checkpoint was trained on'
          : `${FLAG_OF[key]} ${JSON.stringify(now)} differs from the checkpoint's ${key} ${JSON.stringify(was)}`;
      throw new UsageError(
        `--resume: ${what} (${dir}/meta.json); resume with the same settings, or train a new run in another --out`,
      );
    }
    out[key] = now ?? was;
  }
  return out as Partial<RunSettings>;
}
