// A prepared data folder: what `ganglion prepare` writes (open-data.ts reads it).
//
//   DIR/train.bin, val.bin   token ids back to back, little-endian uint16 (uint32 past 65,536 ids)
//   DIR/tokenizer.json       the tokenizer's toJSON()
//   DIR/meta.json            DataMeta, written last: a folder without it is not complete
//
// Ganglion writes only into a new or empty folder, or one holding an earlier prepare's output.
// Replacing one keeps it readable until the new meta.json lands: the old files are first
// hard-linked into DIR/.previous/, then the old meta.json goes, the new files are renamed into
// place, and the new meta.json is renamed in last; a reader that finds no meta.json at the top
// reads .previous/. Temporary files are hidden (`.train.bin.tmp-<pid>-<hex>`) and removed on
// failure, or by the next prepare when their process is gone.
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GanglionError, type TokenDType } from '@ganglion/core';
import {
  folderEntries,
  holdsFiles,
  linkOrCopy,
  makeDirs,
  processRunning,
  syncDirectory,
  writeFileAtomically,
} from '@ganglion/core/node';
import { parseTempName } from './token-files.js';

/** A data folder cannot be written (a folder Ganglion did not write) or read (missing or broken files). */
export class DataFolderError extends GanglionError {}

export const DATA_FORMAT = 'ganglion-data';
export const DATA_VERSION = 1;
export const DATA_FILES = {
  train: 'train.bin',
  validation: 'val.bin',
  tokenizer: 'tokenizer.json',
  meta: 'meta.json',
} as const;
/** Where the previous output waits while a new one replaces it. */
export const PREVIOUS = '.previous';
/** What `ganglion train` wrote into `.ganglion/data` before data folders had a meta.json. */
const LEGACY_META = 'tokens.json';

/** One split's file and what it holds. */
export interface SplitMeta {
  readonly file: string;
  readonly tokens: number;
  /** Characters (code points) of the text the split encodes, separators included when they are text. */
  readonly characters: number;
  /** UTF-8 bytes of that text. */
  readonly bytes: number;
  readonly documents: number;
  /** Ids of the tokenizer's unknown token (`<unk>`) in the split; 0 when it has none. */
  readonly unknownTokens: number;
  /** sha256 (hex) of the token file. */
  readonly sha256: string;
}

/** What meta.json holds. */
export interface DataMeta {
  readonly format: typeof DATA_FORMAT;
  readonly version: typeof DATA_VERSION;
  readonly dtype: TokenDType;
  readonly byteOrder: 'little-endian';
  readonly vocabSize: number;
  readonly tokenizer: {
    readonly kind: string;
    readonly spec: string;
    readonly file: string;
    readonly sha256: string;
    /**
     * Characters that occur only in the validation text, which the tokenizer was given once each
     * (its statistics come from the training text; its alphabet covers the corpus). 0 for a
     * tokenizer opened or given ready.
     */
    readonly validationOnlyCharacters: number;
  };
  readonly train: SplitMeta;
  readonly validation: SplitMeta;
  /** Between two documents of a split: the tokenizer's `<|endoftext|>` id, or a blank line as text. */
  readonly documentSeparator:
    | { readonly kind: 'token'; readonly token: string; readonly id: number }
    | { readonly kind: 'text'; readonly text: string };
  readonly split: {
    readonly rule: string;
    /** The held-out fraction of the bytes; null when the corpus marks its split (Moby-Dick). */
    readonly heldOut: number | null;
    /** Where validation starts: the document (a file, or a .jsonl line), its source and the byte offset in it. */
    readonly validationStarts: { readonly where: string; readonly source: string; readonly byte: number };
  };
  /** The .jsonl field read, or null when no source is a .jsonl file. */
  readonly textField: string | null;
  readonly corpus: string;
  /** `sha256:<hex>` of a single file, of the sources' list otherwise; Moby-Dick: its package and version. */
  readonly fingerprint: string;
  readonly sources: readonly { readonly path: string; readonly bytes: number; readonly sha256: string }[];
  readonly created: string;
}

export async function readJson(path: string): Promise<unknown> {
  try {
    if (!(await stat(path)).isFile()) return undefined;
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export const isDataMeta = (json: unknown) =>
  json !== null && typeof json === 'object' && (json as { format?: unknown }).format === DATA_FORMAT;
const isLegacyMeta = (json: unknown) =>
  json !== null && typeof json === 'object' && (json as { format?: unknown }).format === 'ganglion-tokens';

/** True for the names a prepare leaves behind for itself: temporary files and `.previous`. */
function isOwnLeftover(name: string): boolean {
  return name === PREVIOUS || name.startsWith(`${PREVIOUS}.tmp-`) || parseTempName(name) !== undefined;
}

export type DataDirStatus =
  /** Nothing there: it will be created. */
  | { readonly kind: 'absent' }
  /** An empty folder (or one holding only a killed prepare's temporary files). */
  | { readonly kind: 'empty' }
  /** An earlier prepare's output: it will be replaced. */
  | { readonly kind: 'data' }
  /** Something Ganglion did not write here: refused. */
  | { readonly kind: 'foreign'; readonly reason: string };

/** What `dir` is, without changing anything. Throws DataFolderError for a path that cannot be a folder. */
export async function dataDirStatus(dir: string): Promise<DataDirStatus> {
  const names = await folderEntries(dir, 'folder', (p) => new DataFolderError(`"${dir}": ${p}`));
  if (!names) return { kind: 'absent' };
  if (names.includes(DATA_FILES.meta)) {
    const json = await readJson(join(dir, DATA_FILES.meta));
    if (isDataMeta(json)) return { kind: 'data' };
    const format = (json as { format?: unknown } | undefined)?.format;
    return {
      kind: 'foreign',
      reason: `its ${DATA_FILES.meta} is not one \`ganglion prepare\` wrote${typeof format === 'string' ? ` (format "${format}")` : ''}`,
    };
  }
  if (names.includes(LEGACY_META) && isLegacyMeta(await readJson(join(dir, LEGACY_META)))) return { kind: 'data' };
  if (names.includes(PREVIOUS) && isDataMeta(await readJson(join(dir, PREVIOUS, DATA_FILES.meta))))
    return { kind: 'data' };
  const others = names.filter((n) => !isOwnLeftover(n));
  if (others.length === 0) return { kind: 'empty' };
  return { kind: 'foreign', reason: `${holdsFiles(others)} but no ${DATA_FILES.meta} from \`ganglion prepare\`` };
}

/**
 * `dir`'s status when it may be written (new, empty, or an earlier output); a DataFolderError
 * naming it otherwise. Changes nothing.
 */
export async function checkDataDirWritable(dir: string): Promise<DataDirStatus> {
  const status = await dataDirStatus(dir);
  if (status.kind === 'foreign')
    throw new DataFolderError(
      `"${dir}" is not a Ganglion data folder (${status.reason}); refusing to write into it. Choose a new or empty folder`,
    );
  return status;
}

/**
 * Checks that `dir` may be written and creates it. Returns whether it was created, so a failed
 * prepare can remove it again.
 */
export async function openDataDirForWriting(dir: string): Promise<{ created: boolean }> {
  const status = await checkDataDirWritable(dir);
  if (status.kind === 'absent') {
    try {
      await makeDirs(dir);
    } catch (e) {
      throw new DataFolderError(`cannot create the data folder "${dir}": ${(e as Error).message}`);
    }
  }
  return { created: status.kind === 'absent' };
}

/** The files a complete output in `from` consists of, by meta.json's names. */
async function outputFiles(from: string): Promise<string[] | undefined> {
  const meta = await readJson(join(from, DATA_FILES.meta));
  if (!isDataMeta(meta)) return undefined;
  const m = meta as DataMeta;
  return [m.train?.file, m.validation?.file, m.tokenizer?.file].filter((f): f is string => typeof f === 'string');
}

/** The new output's files, complete under temporary names in the folder. */
export interface StagedOutput {
  readonly train: string;
  readonly validation: string;
  readonly tokenizer: string;
  readonly meta: DataMeta;
}

/** Renames a staged output into place, meta.json last, keeping the previous one readable meanwhile. */
export async function commitDataDir(dir: string, staged: StagedOutput): Promise<void> {
  const previous = join(dir, PREVIOUS);
  const top = await outputFiles(dir);
  if (top) {
    // Keep the current output whole in .previous while its names are reused.
    const building = join(dir, `${PREVIOUS}.tmp-${process.pid}`);
    await rm(building, { recursive: true, force: true });
    await mkdir(building);
    for (const name of [...top, DATA_FILES.meta]) await linkOrCopy(join(dir, name), join(building, name));
    await rm(previous, { recursive: true, force: true });
    await rename(building, previous);
    await syncDirectory(dir);
    await unlink(join(dir, DATA_FILES.meta));
  }
  // Without a top-level meta.json, a reader reads .previous (when there is one) from here on.
  await rm(join(dir, LEGACY_META), { force: true });
  await rename(staged.train, join(dir, staged.meta.train.file));
  await rename(staged.validation, join(dir, staged.meta.validation.file));
  await rename(staged.tokenizer, join(dir, staged.meta.tokenizer.file));
  await syncDirectory(dir);
  await writeFileAtomically(join(dir, DATA_FILES.meta), `${JSON.stringify(staged.meta, null, 2)}\n`);
  await syncDirectory(dir);
  await rm(previous, { recursive: true, force: true });
  await removeLeftovers(dir);
}

/** Removes temporary files and folders that processes no longer running left in `dir`. */
async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const temp =
      parseTempName(name) ?? (name.startsWith(`${PREVIOUS}.tmp-`) ? { pid: Number(name.slice(14)) } : undefined);
    if (temp && temp.pid !== process.pid && !processRunning(temp.pid))
      await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Undoes `openDataDirForWriting` after a failure: removes the folder if it created it and it is empty. */
export async function removeIfCreated(dir: string, created: boolean): Promise<void> {
  if (created) await rmdir(dir).catch(() => undefined);
}
