// Token files: a split's ids on disk, back to back, little-endian, in the narrowest unsigned type
// that holds the vocabulary (nanoGPT's train.bin / val.bin), written through a buffer under a
// temporary name (renamed into place by the data folder's commit) and read back one window at a
// time, so a corpus larger than memory trains in bounded memory.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  GanglionError,
  type TokenArray,
  type TokenDType,
  type TokenSource,
  TokenizerError,
  allocateTokens,
  tokenBytes,
} from '@ganglion/core';

/** A token file cannot be written or read. */
export class TokenFileError extends GanglionError {}

/** The largest vocabulary token files hold: ids must fit in 32 bits. */
export const MAX_VOCAB = 2 ** 32;

/** The dtype of a prepared data folder: uint16 when the vocabulary fits in 65,536 ids, else uint32. */
export function dataDType(vocabSize: number): 'uint16' | 'uint32' {
  if (!(Number.isSafeInteger(vocabSize) && vocabSize >= 1))
    throw new TokenizerError(`a tokenizer's vocabulary must be a whole number of tokens >= 1, got ${vocabSize}`);
  if (vocabSize > MAX_VOCAB)
    throw new TokenizerError(
      `the tokenizer has ${vocabSize.toLocaleString('en-US')} tokens; token files hold ids up to 2^32 (${MAX_VOCAB.toLocaleString('en-US')} tokens)`,
    );
  return vocabSize <= 0x10000 ? 'uint16' : 'uint32';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `width`-byte word of `bytes` in place (for a big-endian machine). */
function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** A hidden name beside `path` for the file while it is written: `.train.bin.tmp-<pid>-<hex>`. */
export const tempName = (path: string) =>
  join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** True for a name `tempName` makes; `pid` is the process that made it. */
export function parseTempName(name: string): { pid: number } | undefined {
  const m = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/.exec(name);
  return m ? { pid: Number(m[1]) } : undefined;
}

/**
 * Appends ids to a new temporary file beside `path` through a buffer, checking each is below
 * `vocabSize`; `finish` flushes and syncs it and returns its temporary path and sha256 (the
 * caller renames it), `abort` removes it.
 */
export class TokenFileWriter {
  readonly temp: string;
  private readonly fd: number;
  private readonly buffer: TokenArray;
  private readonly hash = createHash('sha256');
  private filled = 0;
  private count = 0;
  private closed = false;

  constructor(
    readonly path: string,
    readonly dtype: TokenDType,
    private readonly vocabSize: number,
    bufferTokens = 1 << 20,
  ) {
    this.temp = tempName(path);
    try {
      this.fd = openSync(this.temp, 'wx');
    } catch (e) {
      throw new TokenFileError(`cannot write token file "${path}": ${(e as Error).message}`);
    }
    this.buffer = allocateTokens(dtype, bufferTokens);
  }

  /** Tokens written so far. */
  get tokens(): number {
    return this.count;
  }

  write(ids: ArrayLike<number>): void {
    const max = this.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < max && Number.isInteger(id)))
        throw new TokenFileError(`token file "${this.path}": id ${id} is outside the vocabulary (0..${max - 1})`);
      this.buffer[this.filled++] = id;
      if (this.filled === this.buffer.length) this.flush();
    }
    this.count += ids.length;
  }

  /** Flushes and syncs the temporary file; returns its sha256 (hex). */
  finish(): { temp: string; sha256: string; bytes: number } {
    try {
      this.flush();
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.closed = true;
    } catch (e) {
      this.abort();
      throw new TokenFileError(`cannot write token file "${this.path}": ${(e as Error).message}`);
    }
    return { temp: this.temp, sha256: this.hash.digest('hex'), bytes: this.count * tokenBytes(this.dtype) };
  }

  /** Removes the temporary file. */
  abort(): void {
    if (!this.closed) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.closed = true;
    }
    rmSync(this.temp, { force: true });
  }

  private flush(): void {
    const width = tokenBytes(this.dtype);
    const bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.filled * width);
    if (!LITTLE_ENDIAN) swapBytes(bytes, width);
    this.hash.update(bytes);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.filled = 0;
  }
}

/**
 * A token file read by range, as a TokenSource: each `read` copies one range out of the file, so
 * memory stays bounded whatever its size. `close()` releases the descriptor.
 *
 *   const train = new TokenFile('data/train.bin', 'uint16');
 *   const data = lmDataset(train, { seqLen: 256, batchSize: 32, shuffle: true });
 */
export class TokenFile implements TokenSource {
  readonly length: number;
  private fd: number | undefined;
  private scratch: TokenArray;

  constructor(
    readonly path: string,
    readonly dtype: TokenDType,
  ) {
    try {
      this.fd = openSync(path, 'r');
      const size = fstatSync(this.fd).size;
      if (size % tokenBytes(dtype) !== 0)
        throw new Error(`its ${size} bytes are not a whole number of ${dtype} tokens`);
      this.length = size / tokenBytes(dtype);
    } catch (e) {
      if (this.fd !== undefined) closeSync(this.fd);
      const code = (e as NodeJS.ErrnoException).code;
      throw new TokenFileError(
        `cannot read token file "${path}": ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
    this.scratch = allocateTokens(dtype, 0);
  }

  read(start: number, out: Int32Array): void {
    if (this.fd === undefined) throw new TokenFileError(`token file "${this.path}" is closed`);
    if (!(Number.isInteger(start) && start >= 0 && start + out.length <= this.length)) {
      throw new TokenFileError(
        `token file "${this.path}": tokens [${start}, ${start + out.length}) are outside 0..${this.length}`,
      );
    }
    if (this.scratch.length < out.length) this.scratch = allocateTokens(this.dtype, out.length);
    const width = tokenBytes(this.dtype);
    const bytes = new Uint8Array(this.scratch.buffer, 0, out.length * width);
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(this.fd, bytes, off, bytes.length - off, start * width + off);
      if (n === 0)
        throw new TokenFileError(
          `token file "${this.path}" ended at byte ${start * width + off}, expected ${this.length * width} bytes`,
        );
      off += n;
    }
    if (!LITTLE_ENDIAN) swapBytes(bytes, width);
    out.set(this.scratch.subarray(0, out.length));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
