// Replacing a directory atomically, so a crash at any moment leaves the last good checkpoint
// loadable. Saving `dir`:
//   1. write every file into the sibling `<dir>.tmp-<pid>-<hex>`, fsync each file and the temp dir
//   2. if `dir` exists: remove any `<dir>.old-*` left by an earlier crash (garbage, as `dir`
//      exists), then rename `dir` -> `<dir>.old-<pid>-<hex>`
//   3. rename the temp dir -> `dir`, fsync the parent (makes both renames durable)
//   4. remove `<dir>.old-*`, and `<dir>.tmp-*` left by processes that no longer run
// A crash (or power loss) during
//   1      leaves `dir` untouched; the partial temp dir is never read, and step 4 of a later save
//          removes it.
//   2 - 3  (between the renames) leaves no `dir`, but `<dir>.old-*` holds the last good
//          checkpoint: loading a missing `dir` falls back to it. Olds are only made while `dir`
//          exists and step 2 first removes every earlier one, so with `dir` missing there is at
//          most one. (The complete temp dir of the interrupted save is ignored: we cannot tell
//          it apart from a partial one of another crash.) A later save just renames its temp
//          dir into place and then removes the old.
//   3 - 4  leaves the new `dir` plus garbage that the next save removes.
// A power loss before the parent's fsync may undo either rename; that too is one of the states
// above. Loading only reads (it never repairs), so it works on a read-only copy. Renames within
// one directory are atomic on POSIX file systems. Two processes saving the same directory at
// once are not supported.

import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where tests simulate a crash: a hook that throws stops the save right there, as a crash would. */
export type CommitStage = 'files-written' | 'moved-aside' | 'renamed';

export interface CommitHooks {
  readonly onStage?: (stage: CommitStage) => void;
}

const suffix = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

/** A fresh temp sibling of `dir` (not yet created). */
export const tempSibling = (dir: string): string => `${dir}.tmp-${suffix()}`;

function siblings(dir: string, kind: 'tmp' | 'old', names: readonly string[]): { name: string; pid: number }[] {
  const prefix = `${basename(dir)}.${kind}-`;
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+-[0-9a-f]+$/.test(n.slice(prefix.length)))
    .map((n) => ({ name: n, pid: Number(n.slice(prefix.length).split('-')[0]) }));
}

const errnoCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Create `path` (which must not exist), write it and fsync it. */
export async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
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

/** Move the fully written `tmpDir` into place as `dir` (steps 2-4 above). */
export async function commitDirectory(tmpDir: string, dir: string, hooks: CommitHooks = {}): Promise<void> {
  const parent = dirname(dir);
  await syncDirectory(tmpDir);
  hooks.onStage?.('files-written');
  if (await exists(dir)) {
    for (const old of siblings(dir, 'old', await readdir(parent))) await rm(join(parent, old.name), { recursive: true, force: true });
    await rename(dir, `${dir}.old-${suffix()}`);
    hooks.onStage?.('moved-aside');
  }
  await rename(tmpDir, dir);
  await syncDirectory(parent);
  hooks.onStage?.('renamed');
  // The new checkpoint is in place: failing to tidy up must not fail the save.
  await removeGarbage(dir).catch(() => undefined);
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
};

/** Remove `<dir>.old-*` and the temp dirs of processes that no longer run (only while `dir` exists). */
async function removeGarbage(dir: string): Promise<void> {
  const parent = dirname(dir);
  const names = await readdir(parent);
  const garbage = [...siblings(dir, 'old', names), ...siblings(dir, 'tmp', names).filter((t) => t.pid !== process.pid && !isRunning(t.pid))];
  for (const g of garbage) await rm(join(parent, g.name), { recursive: true, force: true });
}

/**
 * The directory to load `dir` from: `dir` itself, or when it is missing the `<dir>.old-*` left by
 * a crash between the two renames (the newest, should there be several). Undefined: neither exists.
 */
export async function recoverableDirectory(dir: string): Promise<string | undefined> {
  if (await exists(dir)) return dir;
  const parent = dirname(dir);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
  const olds = await Promise.all(siblings(dir, 'old', names).map(async (o) => ({ path: join(parent, o.name), mtime: (await stat(join(parent, o.name))).mtimeMs })));
  olds.sort((a, b) => b.mtime - a.mtime);
  return olds[0]?.path;
}
