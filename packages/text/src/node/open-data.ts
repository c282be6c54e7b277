// Reading a prepared data folder for training: meta.json checked, the tokenizer read back through
// the plugins, and the two token files opened to be read by window (never whole), so a corpus
// larger than memory trains in bounded memory. After an interrupted prepare (no meta.json at the
// top), the previous output in `.previous` is read instead.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type TokenDType, type Tokenizer, type TokenizerRegistry, tokenBytes } from '@ganglion/core';
import { errnoCode } from '@ganglion/core/node';
import { builtinTokenizers } from '../index.js';
import {
  DATA_FILES,
  DATA_FORMAT,
  DATA_VERSION,
  DataFolderError,
  type DataMeta,
  PREVIOUS,
  type SplitMeta,
  isDataMeta,
  readJson,
} from './data-folder.js';
import { TokenFile } from './token-files.js';

/** A prepared data folder, open: its splits as token sources read by window. */
export interface OpenedData {
  /** The folder read: `dir`, or `dir/.previous` while an interrupted prepare's output is incomplete. */
  readonly dir: string;
  readonly meta: DataMeta;
  readonly tokenizer: Tokenizer;
  readonly train: TokenFile;
  readonly validation: TokenFile;
  /** Characters per token of the validation split (bits per character = nats per token / this / ln 2). */
  readonly validationCharactersPerToken: number;
  /** Closes both token files. */
  close(): void;
}

function field(meta: Record<string, unknown>, path: string, name: string, check: (v: unknown) => boolean): unknown {
  const v = meta[name];
  if (!check(v))
    throw new DataFolderError(`${path}: "${name}" is ${JSON.stringify(v)}, not what \`ganglion prepare\` writes`);
  return v;
}

const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown) => typeof v === 'string' && v.length > 0 && !/[/\\]/.test(v) && v !== '.' && v !== '..';

/**
 * Opens the folder `ganglion prepare` wrote: meta.json, the tokenizer (read back through
 * `registry`, default the built-in plugins, so any plugin's tokenizer.json loads), and train.bin /
 * val.bin as TokenFiles read by window (never whole). Throws a DataFolderError naming the file
 * for a missing or broken one.
 *
 *   const data = await openData('data/moby');
 *   const batches = lmDataset(data.train, { seqLen: 256, batchSize: 32, shuffle: true });
 *   ...
 *   data.close();
 */
export async function openData(dir: string, registry: TokenizerRegistry = builtinTokenizers): Promise<OpenedData> {
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    throw new DataFolderError(
      `data folder "${dir}": ${errnoCode(e) === 'ENOENT' ? 'no such folder' : (e as Error).message}; make one with ganglion prepare`,
    );
  }
  if (!st.isDirectory())
    throw new DataFolderError(`data folder "${dir}" is a file; give the folder ganglion prepare wrote`);
  let from = dir;
  const topMeta = join(dir, DATA_FILES.meta);
  if (!(await exists(topMeta)) && isDataMeta(await readJson(join(dir, PREVIOUS, DATA_FILES.meta))))
    from = join(dir, PREVIOUS);
  const metaPath = join(from, DATA_FILES.meta);
  if (!(await exists(metaPath)))
    throw new DataFolderError(
      `data folder "${dir}" has no ${DATA_FILES.meta}: it is not a folder ganglion prepare wrote (or the prepare did not finish)`,
    );
  let json: unknown;
  try {
    json = JSON.parse(await readFile(metaPath, 'utf8'));
  } catch (e) {
    throw new DataFolderError(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!isDataMeta(json)) {
    const format = (json as { format?: unknown } | null)?.format;
    throw new DataFolderError(
      `${metaPath}: format ${JSON.stringify(format)}, expected "${DATA_FORMAT}" (a folder ganglion prepare wrote)`,
    );
  }
  const m = json as Record<string, unknown>;
  field(m, metaPath, 'version', (v) => v === DATA_VERSION);
  const dtype = field(m, metaPath, 'dtype', (v) => v === 'uint16' || v === 'uint32' || v === 'uint8') as TokenDType;
  const vocabSize = field(m, metaPath, 'vocabSize', (v) => isCount(v) && (v as number) >= 1) as number;
  const split = (name: 'train' | 'validation') => {
    const s = field(m, metaPath, name, (v) => v !== null && typeof v === 'object') as Record<string, unknown>;
    field(s, `${metaPath} ${name}`, 'file', isName);
    field(s, `${metaPath} ${name}`, 'tokens', isCount);
    return s as unknown as SplitMeta;
  };
  const trainMeta = split('train');
  const validationMeta = split('validation');
  const tok = field(m, metaPath, 'tokenizer', (v) => v !== null && typeof v === 'object') as Record<string, unknown>;
  const tokenizerFile = field(tok, `${metaPath} tokenizer`, 'file', isName) as string;

  const tokenizerPath = join(from, tokenizerFile);
  let tokenizerJson: unknown;
  try {
    tokenizerJson = JSON.parse(await readFile(tokenizerPath, 'utf8'));
  } catch (e) {
    const why = errnoCode(e) === 'ENOENT' ? 'file is missing' : `cannot read it (${(e as Error).message})`;
    throw new DataFolderError(`${tokenizerPath}: ${why}`);
  }
  const tokenizer = registry.fromJSON(tokenizerJson, tokenizerPath);
  if (tokenizer.vocabSize !== vocabSize)
    throw new DataFolderError(`${tokenizerPath}: ${tokenizer.vocabSize} tokens, but ${metaPath} says ${vocabSize}`);

  const openSplit = async (s: SplitMeta) => {
    const path = join(from, s.file);
    const size = await stat(path).then(
      (x) => (x.isFile() ? x.size : undefined),
      () => undefined,
    );
    if (size === undefined) throw new DataFolderError(`${path}: file is missing`);
    const expected = s.tokens * tokenBytes(dtype);
    if (size !== expected)
      throw new DataFolderError(
        `${path}: ${size} bytes, but ${metaPath} says ${s.tokens} ${dtype} tokens (${expected} bytes); prepare the data again`,
      );
    return new TokenFile(path, dtype);
  };
  const train = await openSplit(trainMeta);
  let validation: TokenFile;
  try {
    validation = await openSplit(validationMeta);
  } catch (e) {
    train.close();
    throw e;
  }
  const meta = json as unknown as DataMeta;
  const characters = isCount(validationMeta.characters) ? validationMeta.characters : validationMeta.tokens;
  return {
    dir: resolve(from),
    meta,
    tokenizer,
    train,
    validation,
    validationCharactersPerToken: validationMeta.tokens > 0 ? characters / validationMeta.tokens : 1,
    close() {
      train.close();
      validation.close();
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
