// Token streams a dataset reads by window: a compact array in memory, or anything that can copy a
// range of tokens out (the CLI reads token files at offsets through this interface, so a corpus
// larger than memory trains in bounded memory). Ids are stored in the narrowest unsigned type that
// holds the vocabulary: one byte per token up to 256 ids, two up to 65,536, else four ('int32' in
// memory; token files on disk use 'uint32', nanoGPT's layout for vocabularies past 65,536).

import { DataError } from './dataset.js';

/** Token ids in memory. */
export type TokenArray = Int32Array | Uint32Array | Uint16Array | Uint8Array;

/** The storage type of token ids. */
export type TokenDType = 'uint8' | 'uint16' | 'uint32' | 'int32';

/** Tokens that can be read by range: `read(start, out)` fills `out` with tokens [start, start + out.length). */
export interface TokenSource {
  readonly length: number;
  read(start: number, out: Int32Array): void;
}

/** The narrowest type that holds ids 0..vocabSize-1. */
export function tokenDType(vocabSize: number): TokenDType {
  return vocabSize <= 0x100 ? 'uint8' : vocabSize <= 0x10000 ? 'uint16' : 'int32';
}

/** Bytes per token of a dtype. */
export function tokenBytes(dtype: TokenDType): number {
  return dtype === 'uint8' ? 1 : dtype === 'uint16' ? 2 : 4;
}

/** A zeroed array of `length` tokens of `dtype`. */
export function allocateTokens(dtype: TokenDType, length: number): TokenArray {
  return dtype === 'uint8'
    ? new Uint8Array(length)
    : dtype === 'uint16'
      ? new Uint16Array(length)
      : dtype === 'uint32'
        ? new Uint32Array(length)
        : new Int32Array(length);
}

function isTokenArray(x: unknown): x is TokenArray {
  return x instanceof Int32Array || x instanceof Uint32Array || x instanceof Uint16Array || x instanceof Uint8Array;
}

function isTokenSource(x: unknown): x is TokenSource {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as TokenSource).read === 'function' &&
    Number.isInteger((x as TokenSource).length)
  );
}

/** An array of tokens as a source (reads convert to int32). */
export function arrayTokenSource(tokens: TokenArray): TokenSource {
  return {
    length: tokens.length,
    read(start, out) {
      if (start < 0 || start + out.length > tokens.length)
        throw new DataError(`tokens [${start}, ${start + out.length}) are outside 0..${tokens.length}`);
      out.set(tokens.subarray(start, start + out.length));
    },
  };
}

/** `tokens` as a source, or a DataError naming `what` when it is neither an id array nor a source. */
export function toTokenSource(tokens: TokenArray | TokenSource, what: string): TokenSource {
  if (isTokenArray(tokens)) return arrayTokenSource(tokens);
  if (isTokenSource(tokens)) return tokens;
  throw new DataError(
    `${what}: tokens must be an Int32Array, Uint16Array, Uint8Array or a TokenSource, got ${Object.prototype.toString.call(tokens)}`,
  );
}
