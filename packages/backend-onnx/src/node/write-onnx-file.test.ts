// writeOnnxFile's failures: each is one ExportError naming the file, and none leaves the temporary
// `<path>.tmp-<pid>` behind, whether it fails creating it (missing folder) or after writing it (the
// rename onto a non-empty folder fails); the folder's listing and contents are what they were.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportError, ParamStore, ReferenceBackend } from '@ganglion/core';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOnnxFile } from './write-onnx-file.js';
import { charModel } from '../testing/graphs.js';

const c = charModel('lstm', 4);
const params = ParamStore.initialize(c.graph, 1, new ReferenceBackend());
const dir = mkdtempSync(join(tmpdir(), 'ganglion-write-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failure(path: string): ExportError {
  try {
    writeOnnxFile(path, c.graph, params);
  } catch (e) {
    return e as ExportError;
  }
  throw new Error(`writing ${path} did not fail`);
}

describe('writeOnnxFile failures', () => {
  it('a rename that fails after the temporary file was written removes it', () => {
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'mine');
    const e = failure(target);
    expect(e).toBeInstanceOf(ExportError);
    expect(e.message).toBe(`cannot write the ONNX model "${target}": "${target}" is a folder`);
    expect(readdirSync(dir).sort()).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['keep.txt']);
    expect(readFileSync(join(target, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('a missing folder is named', () => {
    const path = join(dir, 'missing', 'm.onnx');
    const e = failure(path);
    expect(e).toBeInstanceOf(ExportError);
    expect(e.message).toBe(
      `cannot write the ONNX model "${path}": the folder "${join(dir, 'missing')}" does not exist`,
    );
  });

  it('a stale temporary file is left alone and named', () => {
    const path = join(dir, 'stale.onnx');
    writeFileSync(`${path}.tmp-${process.pid}`, 'not ours to delete');
    const e = failure(path);
    expect(e.message).toBe(
      `cannot write the ONNX model "${path}": "${path}.tmp-${process.pid}" is in the way; remove it`,
    );
    expect(readFileSync(`${path}.tmp-${process.pid}`, 'utf8')).toBe('not ours to delete');
    rmSync(`${path}.tmp-${process.pid}`);
  });
});
