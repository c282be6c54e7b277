// Streamed reading of safetensors files and Hugging Face model folders, for checkpoints too large
// to hold twice in memory. Opening reads only the 8-byte length and the JSON header through a file
// handle, checked by the same code as `decodeSafetensors`; `readFloat32` then reads one tensor's
// bytes at its offset and widens F16, BF16 (and narrows F64) to float32 chunk by chunk, so reading
// a tensor needs its float32 output plus one chunk, never the file.
//
// A model folder holds `model.safetensors`, or `model.safetensors.index.json` naming its shards:
//   { "metadata": { "total_size": ... }, "weight_map": { "<tensor>": "<shard file>", ... } }
// Both give one reader over every tensor, each tensor knowing the file that holds it.

import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { CheckpointError } from '../errors.js';
import {
  type SafetensorsHeaderEntry,
  checkSafetensorsPrefix,
  parseSafetensorsHeader,
} from '../checkpoint/safetensors.js';

export interface SafetensorsTensorInfo {
  /** The format's dtype name: F32, F16, BF16, F64, I64, BOOL, ... */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The file holding the tensor's bytes (a model's shard). */
  readonly file: string;
}

/** Tensors of one safetensors file or of a model's shards, read one at a time from disk. */
export interface SafetensorsReader {
  /** Every tensor, in the order of their data (shards in file-name order). */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The files' `__metadata__` (a model's: every shard's, plus the index's `metadata`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** One tensor's values as float32, read from disk now; F32, F16, BF16 and F64 tensors only. */
  readFloat32(name: string): Promise<Float32Array>;
  /** Closes every file handle; the reader cannot read afterwards. Safe to call twice. */
  close(): Promise<void>;
}

/** The file names `openSafetensorsModel` looks for, in order of preference (as transformers does). */
export const SAFETENSORS_MODEL_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/** The dtypes `readFloat32` converts. */
const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'];
/** Bytes read and converted at a time; a multiple of every element size. */
const CHUNK_BYTES = 4 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface OpenFile {
  readonly file: string;
  readonly handle: FileHandle;
  readonly dataStart: number;
  readonly entries: readonly SafetensorsHeaderEntry[];
  readonly metadata: Record<string, string>;
}

interface Located {
  readonly info: SafetensorsTensorInfo;
  readonly from: OpenFile;
  readonly entry: SafetensorsHeaderEntry;
}

/**
 * Open one safetensors file, reading only its header.
 *
 *   const reader = await openSafetensors('gpt2/model.safetensors');
 *   const wte = await reader.readFloat32('wte.weight'); // F32, F16, BF16 or F64 on disk
 *   await reader.close();
 */
export async function openSafetensors(file: string): Promise<SafetensorsReader> {
  const opened = await openFile(file);
  return readerOver([opened], file);
}

/**
 * Open a Hugging Face model folder: `model.safetensors`, or `model.safetensors.index.json` and the
 * shards it names. Every shard's header is checked against the index before this resolves.
 *
 *   const reader = await openSafetensorsModel('Llama-3.2-1B');
 *   for (const [name, { dtype, shape }] of reader.tensors) console.log(name, dtype, shape);
 */
export async function openSafetensorsModel(dir: string): Promise<SafetensorsReader> {
  const kind = await stat(dir).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    (e: NodeJS.ErrnoException) => e.code ?? 'error',
  );
  if (kind === 'file')
    throw new CheckpointError(`${dir}: is a file, expected a model folder (openSafetensors reads a single file)`);
  if (kind !== 'dir')
    throw new CheckpointError(`${dir}: cannot read the model folder (${kind === 'ENOENT' ? 'no such folder' : kind})`);

  const single = join(dir, SAFETENSORS_MODEL_FILE);
  if (await isFile(single)) return readerOver([await openFile(single)], dir);
  const index = join(dir, SAFETENSORS_INDEX_FILE);
  if (await isFile(index)) return openSharded(dir, index);
  const others = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5'];
  const found: string[] = [];
  for (const f of others) if (await isFile(join(dir, f))) found.push(f);
  throw new CheckpointError(
    `${dir}: no ${SAFETENSORS_MODEL_FILE} or ${SAFETENSORS_INDEX_FILE} in the folder` +
      (found.length > 0 ? ` (found ${found.join(', ')}; only safetensors weights can be read)` : ''),
  );
}

async function openSharded(dir: string, index: string): Promise<SafetensorsReader> {
  const fail = (problem: string): never => {
    throw new CheckpointError(`${index}: ${problem}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(index, 'utf8'));
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  const { weight_map: weightMap, metadata: indexMetadata } = (parsed ?? {}) as Record<string, unknown>;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap))
    fail(`"weight_map" is ${JSON.stringify(weightMap)}, expected an object mapping tensor names to shard files`);
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || isAbsolute(shard) || normalize(shard).startsWith('..'))
      fail(`"weight_map" maps tensor "${tensor}" to ${JSON.stringify(shard)}, expected a file name in ${dir}`);
    const list = byShard.get(shard as string) ?? [];
    list.push(tensor);
    byShard.set(shard as string, list);
  }
  if (byShard.size === 0) fail('"weight_map" is empty; it names no tensors');

  const shards = [...byShard.keys()].sort();
  for (const shard of shards) {
    if (!(await isFile(join(dir, shard)))) {
      const names = byShard.get(shard)!;
      const more = names.length > 1 ? ` and ${names.length - 1} more` : '';
      fail(`shard "${shard}" (holding tensor "${names[0]}"${more}) is missing from ${dir}`);
    }
  }

  const opened: OpenFile[] = [];
  try {
    for (const shard of shards) opened.push(await openFile(join(dir, shard)));
    const reader = readerOver(opened, dir);
    for (const [i, shard] of shards.entries()) {
      for (const tensor of byShard.get(shard)!) {
        if (reader.tensors.get(tensor)?.file !== opened[i].file) {
          throw new CheckpointError(
            `${opened[i].file}: holds no tensor "${tensor}", which ${index} maps to this shard`,
          );
        }
      }
    }
    const metadata = reader.metadata as Record<string, string>;
    if (indexMetadata !== null && typeof indexMetadata === 'object' && !Array.isArray(indexMetadata)) {
      for (const [k, v] of Object.entries(indexMetadata))
        if (!Object.hasOwn(metadata, k)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return reader;
  } catch (e) {
    await Promise.all(opened.map((o) => o.handle.close().catch(() => undefined)));
    throw e;
  }
}

/** Opens `file` and checks its header; the handle is closed again if anything is wrong. */
async function openFile(file: string): Promise<OpenFile> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`${file}: cannot open (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new CheckpointError(`${file}: is not a file`);
    const size = info.size;
    const prefix = await readAt(handle, file, Math.min(8, size), 0);
    const headerLength = checkSafetensorsPrefix(prefix, size, file);
    const json = await readAt(handle, file, headerLength, 8);
    const { entries, metadata, dataStart } = parseSafetensorsHeader(json, size, file);
    return { file, handle, dataStart, entries, metadata };
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw e;
  }
}

function readerOver(files: readonly OpenFile[], where: string): SafetensorsReader {
  const located = new Map<string, Located>();
  const tensors = new Map<string, SafetensorsTensorInfo>();
  const metadata: Record<string, string> = {};
  for (const f of files) {
    for (const entry of f.entries) {
      const earlier = located.get(entry.name);
      if (earlier)
        throw new CheckpointError(
          `${f.file}: tensor "${entry.name}" is also in ${earlier.from.file}; it must be in one shard`,
        );
      const info: SafetensorsTensorInfo = { dtype: entry.dtype, shape: entry.shape, file: f.file };
      located.set(entry.name, { info, from: f, entry });
      tensors.set(entry.name, info);
    }
    for (const [k, v] of Object.entries(f.metadata)) if (!Object.hasOwn(metadata, k)) metadata[k] = v;
  }
  let closed = false;
  return {
    tensors,
    metadata,
    async readFloat32(name) {
      const at = located.get(name);
      if (!at) throw new CheckpointError(`${where}: no tensor "${name}" (it has ${tensors.size} tensors)`);
      if (closed) throw new CheckpointError(`${at.from.file}: cannot read tensor "${name}": the reader is closed`);
      return readTensor(at);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(files.map((f) => f.handle.close()));
    },
  };
}

async function readTensor({ info, from, entry }: Located): Promise<Float32Array> {
  const { dtype } = info;
  if (!FLOAT_DTYPES.includes(dtype)) {
    throw new CheckpointError(
      `${from.file}: tensor "${entry.name}" is ${dtype}; only F32, F16, BF16 and F64 tensors can be read as float32`,
    );
  }
  const length = entry.end - entry.begin;
  const size = dtype === 'F64' ? 8 : dtype === 'F32' ? 4 : 2;
  const out = new Float32Array(length / size);
  const start = from.dataStart + entry.begin;
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    await readInto(from, entry.name, new Uint8Array(out.buffer), start);
    return out;
  }
  const bits = new Uint32Array(out.buffer);
  const chunk = new Uint8Array(Math.min(CHUNK_BYTES, length));
  const view = new DataView(chunk.buffer);
  for (let done = 0; done < length; done += chunk.length) {
    const bytes = chunk.subarray(0, Math.min(chunk.length, length - done));
    await readInto(from, entry.name, bytes, start + done);
    const first = done / size;
    const n = bytes.length / size;
    if (dtype === 'F16') {
      const table = halfTable();
      for (let i = 0; i < n; i++) bits[first + i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    } else if (dtype === 'BF16') {
      for (let i = 0; i < n; i++) bits[first + i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
    } else if (dtype === 'F32') {
      for (let i = 0; i < n; i++) out[first + i] = view.getFloat32(4 * i, true);
    } else {
      for (let i = 0; i < n; i++) out[first + i] = view.getFloat64(8 * i, true);
    }
  }
  return out;
}

/** Fills `into` from the file at `position`; a short read means the file shrank after opening. */
async function readInto(from: OpenFile, tensor: string, into: Uint8Array, position: number): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await from.handle.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) {
      throw new CheckpointError(
        `${from.file}: tensor "${tensor}": the file ended ${into.length - got} bytes early; it was truncated after opening`,
      );
    }
    got += bytesRead;
  }
}

async function readAt(handle: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  const into = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(into, got, length - got, position + got);
    if (bytesRead === 0) throw new CheckpointError(`${file}: the file ended while reading its header`);
    got += bytesRead;
  }
  return into;
}

let halfBits: Uint32Array | undefined;

/**
 * The float32 bit pattern of each of the 65536 IEEE halfs: sign moved to bit 31; a normal's
 * exponent rebiased from 15 to 127 and its mantissa shifted up 13 bits; a subnormal m × 2^-24
 * (exact in float32); exponent 31 is inf, or NaN keeping its payload.
 */
function halfTable(): Uint32Array {
  if (halfBits) return halfBits;
  const table = new Uint32Array(65536);
  const subnormal = new Float32Array(1);
  const subnormalBits = new Uint32Array(subnormal.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    let magnitude: number;
    if (exponent === 0) {
      subnormal[0] = mantissa * 2 ** -24;
      magnitude = subnormalBits[0];
    } else if (exponent === 31) magnitude = 0x7f800000 | (mantissa << 13);
    else magnitude = ((exponent - 15 + 127) << 23) | (mantissa << 13);
    table[h] = (sign | magnitude) >>> 0;
  }
  halfBits = table;
  return table;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
