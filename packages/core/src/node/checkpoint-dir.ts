// A checkpoint directory on disk: which folders Ganglion may write into, the lock that keeps two
// trainings out of one folder, and saves that replace only Ganglion's own files, each a complete
// generation a reader can check.
//
// Layout of a checkpoint directory `dir` (anything else in it is the user's and is never touched):
//   dir/graph.json, weights.safetensors, optimizer.safetensors   the current save
//   dir/meta.json        written last; its `files` entry (the manifest) holds each file's size and
//                        sha256, so a reader can tell a complete save from a torn one
//   dir/.ganglion/g<N>/  generation N: the same four files (hard links to the top-level ones, so
//                        no extra space), kept until a newer generation is fully in place
//   dir/.ganglion/lock   { pid, host, since }: the process that writes here
//
// Saving generation N (holding the lock):
//   1. write the files into dir/.ganglion/tmp-<pid>-<hex>/, fsync, rename it to g<N>
//   2. replace each top-level file by a hard link to g<N>'s (link to a temp name + rename),
//      meta.json last, then fsync dir
//   3. remove the older generations and any temp folder (the lock says nobody else writes)
// A crash during 1 leaves the top-level files untouched (a temp folder is never read). A crash
// during 2 leaves a mix of two saves at the top level: its files do not match meta.json's
// manifest, so readers take the newest complete generation instead. Generations are removed only
// once a newer one is in place at the top level, so the last complete save is always readable.
//
// Checkpoints of format 1 (no manifest, replaced by swapping whole directories) still load, and a
// `<dir>.old-*` that a crash mid-swap left is still found when `dir` is missing.

import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { STORE_DIR } from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../errors.js';
const LOCK_FILE = 'lock';
const META = 'meta.json';

/** Where tests simulate a crash: a hook that throws stops the save right there, as a crash would. */
export type CommitStage = 'files-written' | 'partly-linked' | 'linked';

export interface CommitHooks {
  readonly onStage?: (stage: CommitStage) => void;
}

/** The `code` of a Node error (ENOENT, EPERM, ...), or undefined. */
export const errnoCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const hex = () => randomBytes(4).toString('hex');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Create `path` (which must not exist), write it and fsync it. */
async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory, so the entries created or renamed in it survive a power loss. */
export async function syncDirectory(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (e) {
    // Windows and some network file systems cannot open or fsync a directory.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES'].includes(errnoCode(e) ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}

/** A hard link to `from` at `to` (no extra space), or a copy where the file system has no hard links. */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    if (!['EPERM', 'ENOTSUP', 'EXDEV', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes(errnoCode(e) ?? '')) throw e;
    await copyFile(from, to);
  }
}

/**
 * `mkdir -p` that cannot hang: Node's recursive mkdir loops forever where the kernel answers
 * ENOENT for a folder whose parent exists (e.g. under /proc). Creates each missing folder in turn.
 */
export async function makeDirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    try {
      if ((await stat(p)).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}' (${p} is a file)`), { code: 'ENOTDIR' });
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      await mkdir(p);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
  }
}

/**
 * Write `path` so that a crash leaves either the old file or the new one: a temp file beside it,
 * fsynced, then renamed over it. The temp file is removed if anything fails.
 */
export async function writeFileAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${hex()}`);
  try {
    await writeDurably(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// What a folder is

/** True when `json` (a parsed meta.json) was written by Ganglion: format 2, or format 1's fields. */
export function isGanglionMeta(json: unknown): boolean {
  if (!isObject(json)) return false;
  if (json.format === 'ganglion-checkpoint') return true;
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  return json.formatVersion === 1 && count(json.step) && count(json.epoch);
}

export type CheckpointDirStatus =
  /** Nothing there: a checkpoint may be created. */
  | { readonly kind: 'absent' }
  /** An empty folder, or one holding only Ganglion's own `.ganglion` with no complete save. */
  | { readonly kind: 'empty' }
  /** A Ganglion checkpoint (complete, or recoverable from a generation). */
  | { readonly kind: 'checkpoint' }
  /** Something Ganglion did not write: it must not be written into. */
  | { readonly kind: 'foreign'; readonly reason: string };

/**
 * The entries of the folder `dir`, or undefined when nothing is there. A path that cannot be a
 * folder throws `fail(problem)`: a file (`kind`: what the folder was to be), a file on the path, or
 * the system's message. What checkpoint and data folders share before each decides what it holds.
 */
export async function folderEntries(
  dir: string,
  kind: string,
  fail: (problem: string) => Error,
): Promise<string[] | undefined> {
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw fail(errnoCode(e) === 'ENOTDIR' ? 'a part of this path is a file, not a folder' : (e as Error).message);
  }
  if (!st.isDirectory()) throw fail(`is a file, not a ${kind}`);
  return readdir(dir);
}

/** `it holds files ("a", "b", "c", …)`: the first three of `names`, for saying why a folder is not ours. */
export function holdsFiles(names: readonly string[]): string {
  const shown = names
    .slice(0, 3)
    .map((n) => JSON.stringify(n))
    .join(', ');
  return `it holds files (${shown}${names.length > 3 ? ', …' : ''})`;
}

/** Classify `dir` without changing anything. Throws CheckpointError for what cannot be a folder. */
export async function checkpointDirStatus(dir: string): Promise<CheckpointDirStatus> {
  const names = await folderEntries(dir, 'checkpoint folder', (p) => new CheckpointError(`${dir}: ${p}`));
  if (!names) return { kind: 'absent' };
  if (names.includes(META)) {
    let json: unknown;
    try {
      // Only a regular file is read: a FIFO named meta.json would block the read forever.
      if (!(await stat(join(dir, META))).isFile()) throw new Error('not a file');
      json = JSON.parse(await readFile(join(dir, META), 'utf8'));
    } catch {
      // meta.json is only ever replaced by a rename, so an unreadable one was not written by Ganglion.
      json = undefined;
    }
    if (isGanglionMeta(json)) return { kind: 'checkpoint' };
    if ((await generations(dir)).length > 0) return { kind: 'checkpoint' };
    return { kind: 'foreign', reason: `its ${META} was not written by Ganglion` };
  }
  if (names.length === 0) return { kind: 'empty' };
  if ((await generations(dir)).length > 0) return { kind: 'checkpoint' };
  const others = names.filter((n) => n !== STORE_DIR);
  if (others.length === 0) return { kind: 'empty' };
  return { kind: 'foreign', reason: `${holdsFiles(others)} but no Ganglion ${META}` };
}

// ---------------------------------------------------------------------------------------------
// The lock

export interface CheckpointLock {
  readonly path: string;
  /** Remove the lock (idempotent). */
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/** Whether a process with this pid runs on this machine (one we may not signal still runs). */
export const processRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
};

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const json = JSON.parse(await readFile(path, 'utf8'));
    return isObject(json) && typeof json.pid === 'number' && typeof json.host === 'string'
      ? (json as unknown as LockInfo)
      : { pid: NaN, host: '?', since: '?' };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    // Not written by lockCheckpointDir (which links a complete file into place): treated as stale.
    return { pid: NaN, host: '?', since: '?' };
  }
}

/** True when this process holds the lock on `dir`. */
async function holdsLock(dir: string): Promise<boolean> {
  const info = await readLock(join(dir, STORE_DIR, LOCK_FILE));
  return info !== undefined && info.pid === process.pid && info.host === hostname();
}

/**
 * Take the lock on checkpoint directory `dir` (created if missing), or throw a CheckpointError
 * naming the process that holds it. A lock left by a process that no longer runs on this host is
 * taken over.
 *
 *   const lock = await lockCheckpointDir('runs/lm');
 *   try { ...train and save... } finally { await lock.release(); }
 */
export async function lockCheckpointDir(dir: string): Promise<CheckpointLock> {
  const store = join(dir, STORE_DIR);
  const path = join(store, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const release = async () => {
    const info = await readLock(path);
    if (info && info.pid === me.pid && info.host === me.host) await unlink(path).catch(() => undefined);
  };
  try {
    await makeDirs(store);
  } catch (e) {
    throw new CheckpointError(`cannot lock ${dir}: ${(e as Error).message}`);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    // The lock's content is complete before its name exists: written to a temp file, then linked.
    const tmp = join(store, `lock.tmp-${process.pid}-${hex()}`);
    try {
      await writeDurably(tmp, `${JSON.stringify(me)}\n`);
      await link(tmp, path);
      return { path, release };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw new CheckpointError(`cannot lock ${dir}: ${(e as Error).message}`);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
    const held = await readLock(path);
    if (!held) continue;
    if (held.pid === me.pid && held.host === me.host) return { path, release };
    const stale = Number.isNaN(held.pid) || (held.host === me.host && !processRunning(held.pid));
    if (!stale) {
      const where =
        held.host === me.host ? '' : ` on host ${held.host} (if no training runs there any more, delete ${path})`;
      throw new CheckpointError(
        `${dir} is in use: process ${held.pid}${where} has been writing there since ${held.since}; wait for it, or choose another --out`,
      );
    }
    // Stale: move it aside (of two takers only one rename succeeds), then try again.
    const aside = `${path}.stale-${hex()}`;
    await rename(path, aside).catch(() => undefined);
    await rm(aside, { force: true }).catch(() => undefined);
  }
  throw new CheckpointError(`cannot lock ${dir}: the lock at ${path} keeps changing`);
}

// ---------------------------------------------------------------------------------------------
// Generations

/** The complete generations in `dir`, newest first. */
async function generations(dir: string): Promise<{ n: number; path: string }[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, STORE_DIR));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^g\d+$/.test(n))
    .map((n) => ({ n: Number(n.slice(1)), path: join(dir, STORE_DIR, n) }))
    .sort((a, b) => b.n - a.n);
}

/**
 * Write one generation into `dir` (which must not be foreign; the caller checks) and make it the
 * current one. `files` hold meta.json (with the manifest of the others, as `checkpointFiles`
 * makes it), which goes into place last. Takes the lock for the duration unless this process
 * holds it.
 */
export async function writeGeneration(
  dir: string,
  files: Readonly<Record<string, Uint8Array>>,
  hooks: CommitHooks = {},
): Promise<void> {
  if (!files[META]) throw new CheckpointError(`cannot save checkpoint ${dir}: the files hold no ${META}`);
  const store = join(dir, STORE_DIR);
  await makeDirs(store);
  const lock = (await holdsLock(dir)) ? undefined : await lockCheckpointDir(dir);
  try {
    const { [META]: metaBytes, ...others } = files;
    const all = { ...others, [META]: metaBytes };

    // 1. The generation, complete before it gets its name.
    for (const n of await readdir(store))
      if (n.startsWith('tmp-')) await rm(join(store, n), { recursive: true, force: true });
    const next = ((await generations(dir))[0]?.n ?? 0) + 1;
    const tmp = join(store, `tmp-${process.pid}-${hex()}`);
    const gen = join(store, `g${next}`);
    try {
      await mkdir(tmp);
      for (const [name, data] of Object.entries(all)) await writeDurably(join(tmp, name), data);
      await syncDirectory(tmp);
      await rename(tmp, gen);
      await syncDirectory(store);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    hooks.onStage?.('files-written');

    // 2. The top level, meta.json last.
    let first = true;
    for (const name of Object.keys(all)) {
      const staged = join(store, `link-${process.pid}-${hex()}`);
      await linkOrCopy(join(gen, name), staged);
      await rename(staged, join(dir, name));
      if (first) hooks.onStage?.('partly-linked');
      first = false;
    }
    await syncDirectory(dir);
    hooks.onStage?.('linked');

    // 3. Older generations: the new one is in place, so they are no longer the last good save.
    for (const g of await generations(dir))
      if (g.n !== next) await rm(g.path, { recursive: true, force: true }).catch(() => undefined);
  } finally {
    await lock?.release();
  }
}

export interface ReadGeneration {
  /** The folder read: `dir`, a generation inside it, or a `<dir>.old-*` of format 1. */
  readonly from: string;
  /** Why the top level was not read (a torn save), when it was not. */
  readonly recovered?: string;
  readonly meta: unknown;
  readonly files: ReadonlyMap<string, Buffer>;
}

class Torn extends Error {}

async function readChecked(path: string): Promise<Buffer> {
  try {
    if (!(await stat(path)).isFile()) throw new CheckpointError(`${path}: not a regular file`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if (errnoCode(e) === 'ENOENT') throw new CheckpointError(`${path}: file is missing`);
    throw new CheckpointError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/** Read meta.json and the files its manifest lists from `from`, checking sizes and hashes. */
async function readVerified(
  from: string,
  required: readonly string[],
  optional: readonly string[],
): Promise<{ meta: unknown; files: Map<string, Buffer> }> {
  const metaPath = join(from, META);
  const text = (await readChecked(metaPath)).toString('utf8');
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
  const files = new Map<string, Buffer>();
  const manifest = isObject(meta) && isObject(meta.files) ? (meta.files as Record<string, unknown>) : undefined;
  if (!manifest) {
    // Format 1 (or not Ganglion's, which the meta check will say): no manifest to check against.
    if (!isGanglionMeta(meta) || (meta as Record<string, unknown>).format === 'ganglion-checkpoint')
      return { meta, files };
    for (const name of required) files.set(name, await readChecked(join(from, name)));
    for (const name of optional)
      if (await exists(join(from, name))) files.set(name, await readChecked(join(from, name)));
    return { meta, files };
  }
  // An optional file is read (and checked) when the manifest lists it.
  const names = [...required, ...optional.filter((n) => manifest[n] !== undefined)];
  for (const name of names) {
    const entry = manifest[name];
    const path = join(from, name);
    if (!isObject(entry) || typeof entry.sha256 !== 'string' || typeof entry.bytes !== 'number') {
      throw new CheckpointError(`${metaPath}: "files" has no size and sha256 for ${name}`);
    }
    let data: Buffer;
    try {
      if (!(await stat(path)).isFile()) throw new CheckpointError(`${path}: not a regular file`);
      data = await readFile(path);
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      if (errnoCode(e) === 'ENOENT') throw new Torn(`${path}: file is missing`);
      throw new CheckpointError(`${path}: cannot read: ${(e as Error).message}`);
    }
    if (data.length !== entry.bytes || sha256(data) !== entry.sha256) {
      throw new Torn(
        `${path}: ${data.length !== entry.bytes ? `${data.length} bytes, but ${META} says ${entry.bytes}` : `its sha256 does not match ${META}`} (the file was changed after it was saved, or a save was interrupted)`,
      );
    }
    files.set(name, data);
  }
  return { meta, files };
}

/**
 * Read the current generation of checkpoint `dir`: the top-level files when they match meta.json,
 * else the newest complete generation in `dir/.ganglion` (a save was interrupted, or is running).
 * `names` are the files besides meta.json. Throws CheckpointError when nothing complete is there.
 */
export async function readGeneration(
  dir: string,
  names: readonly string[],
  optional: readonly string[] = [],
): Promise<ReadGeneration> {
  const from = await recoverableDirectory(dir);
  if (!from) throw new CheckpointError(`${dir}: checkpoint directory does not exist`);
  if (!(await stat(from)).isDirectory()) throw new CheckpointError(`${from}: not a directory, so not a checkpoint`);
  // A concurrent save may remove a generation while it is read: then read again.
  for (let attempt = 0; ; attempt++) {
    let topProblem: string | undefined;
    try {
      if (from !== dir || (await exists(join(dir, META))) || (await generations(dir)).length === 0) {
        return { from, ...(await readVerified(from, names, optional)) };
      }
      topProblem = `${join(dir, META)}: file is missing`;
    } catch (e) {
      if (!(e instanceof Torn)) throw e;
      topProblem = e.message;
    }
    let lastProblem = topProblem;
    for (const g of await generations(dir)) {
      try {
        const read = await readVerified(g.path, names, optional);
        return { from: g.path, recovered: topProblem, ...read };
      } catch (e) {
        if (!(e instanceof Torn) && !(e instanceof CheckpointError)) throw e;
        lastProblem = e.message;
      }
    }
    if (attempt >= 3)
      throw new CheckpointError(
        `${topProblem}; and no complete earlier save in ${join(dir, STORE_DIR)}${lastProblem !== topProblem ? ` (${lastProblem})` : ''}`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Format 1: whole-directory swaps

function oldSiblings(dir: string, names: readonly string[]): string[] {
  const prefix = `${basename(dir)}.old-`;
  return names.filter((n) => n.startsWith(prefix) && /^\d+-[0-9a-f]+$/.test(n.slice(prefix.length)));
}

/**
 * The directory to load `dir` from: `dir` itself, or when it is missing the `<dir>.old-*` that a
 * crash between the two renames of a format-1 save left (the newest, should there be several).
 * Undefined: neither exists.
 */
export async function recoverableDirectory(dir: string): Promise<string | undefined> {
  // A folder without a save in it (e.g. just created to resume into) does not hide an old copy.
  if (
    (await exists(dir)) &&
    (!(await stat(dir)).isDirectory() || (await exists(join(dir, META))) || (await generations(dir)).length > 0)
  )
    return dir;
  const parent = dirname(dir);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
  const olds = await Promise.all(
    oldSiblings(dir, names).map(async (n) => ({ path: join(parent, n), mtime: (await stat(join(parent, n))).mtimeMs })),
  );
  olds.sort((a, b) => b.mtime - a.mtime);
  return olds[0]?.path ?? ((await exists(dir)) ? dir : undefined);
}
