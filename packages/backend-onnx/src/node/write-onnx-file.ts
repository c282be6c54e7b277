// Writing an exported model to a file (Node): written to `<path>.tmp-<pid>`, flushed, then renamed
// into place, so the file is either its old self or the whole new model.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExportError, type Graph, type ParamStore } from '@ganglion/core';
import { type ExportOptions, type ExportedModel, traceModel } from '../export.js';

/**
 * Export to a file: written to `<path>.tmp-<pid>`, flushed, then renamed into place, so `path` is
 * either its old self or the whole new model. Any failure removes the temporary file and throws an
 * ExportError naming `path`.
 */
export function writeOnnxFile(
  path: string,
  graph: Graph,
  params: ParamStore,
  options: ExportOptions = {},
): ExportedModel {
  const model = traceModel(graph, params, options);
  writeFileAtomically(path, model.bytes);
  return model;
}

function writeFileAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  let created = false;
  try {
    // 'wx': never write through something already at the temporary name (a link, a stale file).
    const fd = openSync(tmp, 'wx');
    created = true;
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    if (created) rmSync(tmp, { force: true });
    const inTheWay = !created && (e as NodeJS.ErrnoException)?.code === 'EEXIST';
    throw new ExportError(
      `cannot write the ONNX model "${path}": ${inTheWay ? `"${tmp}" is in the way; remove it` : fsReason(e, path)}`,
    );
  }
}

/** A file-system error as a reason a person can act on (no temporary names, no syscall jargon). */
function fsReason(e: unknown, path: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return `the folder "${dirname(path)}" does not exist`;
    case 'ENOTDIR':
      return `"${dirname(path)}" is not a folder`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied in "${dirname(path)}"`;
    case 'EROFS':
      return `"${dirname(path)}" is on a read-only file system`;
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    case 'EFBIG':
      return 'the file is larger than this process may write (ulimit -f)';
    case 'EISDIR':
    case 'ENOTEMPTY':
    case 'EEXIST':
      return `"${path}" is a folder`;
    default:
      return (e as Error)?.message ?? String(e);
  }
}
