// Token files: a corpus's ids on disk, one raw file per split (`train.bin`, `val.bin`: ids back to
// back in the machine's byte order, nanoGPT's layout, in the narrowest type the vocabulary allows),
// described by `tokens.json`, and read back one window at a time so a corpus larger than memory
// trains in bounded memory. Every file is written under a temporary name and renamed into place,
// so a reader never sees half a file; `tokens.json` is renamed last.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  type CharTokenizerJSON,
  GanglionError,
  type TokenArray,
  type TokenDType,
  type TokenSource,
  allocateTokens,
  tokenBytes,
  writeFileAtomically,
} from '@ganglion/core';

class TokenFileError extends GanglionError {}

/** What `tokens.json` holds. */
export interface TokenFilesMeta {
  readonly format: 'ganglion-tokens';
  readonly version: 1;
  readonly dtype: TokenDType;
  /** The corpus the ids came from (see Corpus.fingerprint). */
  readonly fingerprint: string;
  readonly tokenizer: CharTokenizerJSON;
  readonly train: { readonly file: string; readonly tokens: number };
  readonly validation: { readonly file: string; readonly tokens: number };
}

const TOKEN_FILES = { train: 'train.bin', validation: 'val.bin', meta: 'tokens.json' } as const;

/** A hidden name beside `path` for the file while it is written (the form checkpoints use). */
const tempName = (path: string) =>
  join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Appends ids to a temporary file through a buffer; `finish` renames it to `path`. */
export class TokenFileWriter {
  private readonly temp: string;
  private readonly fd: number;
  private readonly buffer: TokenArray;
  private filled = 0;
  private count = 0;

  constructor(
    readonly path: string,
    readonly dtype: TokenDType,
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

  write(ids: Int32Array): void {
    let from = 0;
    while (from < ids.length) {
      const n = Math.min(ids.length - from, this.buffer.length - this.filled);
      this.buffer.set(ids.subarray(from, from + n), this.filled);
      this.filled += n;
      from += n;
      if (this.filled === this.buffer.length) this.flush();
    }
    this.count += ids.length;
  }

  /** Flushes, syncs and renames the file into place. */
  finish(): void {
    try {
      this.flush();
      fsyncSync(this.fd);
      closeSync(this.fd);
      renameSync(this.temp, this.path);
    } catch (e) {
      this.abort();
      throw new TokenFileError(`cannot write token file "${this.path}": ${(e as Error).message}`);
    }
  }

  /** Drops the temporary file. */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.temp, { force: true });
  }

  private flush(): void {
    const bytes = new Uint8Array(
      this.buffer.buffer,
      this.buffer.byteOffset,
      this.filled * this.buffer.BYTES_PER_ELEMENT,
    );
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.filled = 0;
  }
}

/** A token file read by range, as a TokenSource; `close()` releases its descriptor. */
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
      throw new TokenFileError(`cannot read token file "${path}": ${(e as Error).message}`);
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
    out.set(this.scratch.subarray(0, out.length));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Writers for both splits in `dir` (created if missing); `commit` renames them and writes tokens.json. */
export function tokenFileWriters(
  dir: string,
  dtype: TokenDType,
): {
  train: TokenFileWriter;
  validation: TokenFileWriter;
  commit(meta: Pick<TokenFilesMeta, 'fingerprint' | 'tokenizer'>): Promise<void>;
  abort(): void;
} {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TokenFileError(`cannot create the token folder "${dir}": ${(e as Error).message}`);
  }
  const train = new TokenFileWriter(join(dir, TOKEN_FILES.train), dtype);
  let validation: TokenFileWriter;
  try {
    validation = new TokenFileWriter(join(dir, TOKEN_FILES.validation), dtype);
  } catch (e) {
    train.abort();
    throw e;
  }
  return {
    train,
    validation,
    async commit(meta) {
      // Without tokens.json the folder reads as incomplete while the two files are swapped in.
      rmSync(join(dir, TOKEN_FILES.meta), { force: true });
      train.finish();
      validation.finish();
      const full: TokenFilesMeta = {
        format: 'ganglion-tokens',
        version: 1,
        dtype,
        ...meta,
        train: { file: basename(train.path), tokens: train.tokens },
        validation: { file: basename(validation.path), tokens: validation.tokens },
      };
      const metaPath = join(dir, TOKEN_FILES.meta);
      try {
        await writeFileAtomically(metaPath, `${JSON.stringify(full, null, 2)}\n`);
      } catch (e) {
        throw new TokenFileError(`cannot write "${metaPath}": ${(e as Error).message}`);
      }
    },
    abort() {
      train.abort();
      validation.abort();
    },
  };
}
