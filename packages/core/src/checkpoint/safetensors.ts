// The Hugging Face safetensors format, encoded and decoded without a dependency:
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   UTF-8 JSON: { "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, ...,
//             "__metadata__": { string: string } }, padded with spaces to a multiple of 8 bytes
//   the rest  the tensors' bytes, row-major, little-endian; offsets are relative to this buffer
// Decoding trusts nothing: every problem is a CheckpointError naming the file and the problem,
// with the same checks as the reference implementation (offsets contiguous from 0 and covering
// the whole buffer, sizes matching shape × dtype).
// The header checks (`checkSafetensorsPrefix`, `parseSafetensorsHeader`) are shared with the
// streamed reader in safetensors-reader.ts, which reads one tensor at a time from disk.

import { CheckpointError } from '../errors.js';

/** Every dtype name the format defines; decoding knows their sizes even when it cannot read them. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The dtypes this implementation reads and writes. */
export type SafetensorsDType = 'F32' | 'F64' | 'I32' | 'U8' | 'BOOL';
export const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = ['F32', 'F64', 'I32', 'U8', 'BOOL'];

export type SafetensorsData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface SafetensorsTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Row-major values; the array type follows the dtype (U8 and BOOL: Uint8Array). */
  readonly data: SafetensorsData;
}

export interface SafetensorsFile {
  /** In the order of their data in the file. */
  readonly tensors: Map<string, SafetensorsTensor>;
  readonly metadata: Record<string, string>;
}

/** The reference implementation refuses headers over 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const ARRAY_TYPE = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array, BOOL: Uint8Array } as const;

const isSupported = (dtype: string): dtype is SafetensorsDType =>
  (SAFETENSORS_DTYPES as readonly string[]).includes(dtype);
const shapeSize = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Encode tensors (laid out in the order given) and optional string metadata.
 *
 *   const bytes = encodeSafetensors(new Map([['dense.kernel', { dtype: 'F32', shape: [2, 3], data }]]));
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor> | Iterable<readonly [string, SafetensorsTensor]>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new CheckpointError(`safetensors: metadata "${k}" is a ${typeof v}; metadata values must be strings`);
    }
    header.__metadata__ = { ...metadata };
  }
  const entries = [...tensors];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__' || name === '')
      throw new CheckpointError(`safetensors: "${name}" cannot be a tensor name`);
    if (Object.hasOwn(header, name)) throw new CheckpointError(`safetensors: tensor "${name}" is given twice`);
    if (!isSupported(t.dtype))
      throw new CheckpointError(
        `safetensors: tensor "${name}" has dtype ${String(t.dtype)}; can write ${SAFETENSORS_DTYPES.join(', ')}`,
      );
    if (!(t.data instanceof ARRAY_TYPE[t.dtype])) {
      throw new CheckpointError(
        `safetensors: tensor "${name}" is ${t.dtype} but its data is a ${t.data.constructor.name}, expected ${ARRAY_TYPE[t.dtype].name}`,
      );
    }
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new CheckpointError(
        `safetensors: tensor "${name}" has shape ${fmt(t.shape)}; dims must be non-negative integers`,
      );
    if (shapeSize(t.shape) !== t.data.length) {
      throw new CheckpointError(
        `safetensors: tensor "${name}" has shape ${fmt(t.shape)} (${shapeSize(t.shape)} elements) but ${t.data.length} values`,
      );
    }
    if (t.dtype === 'BOOL' && t.data.some((v) => v > 1))
      throw new CheckpointError(`safetensors: tensor "${name}" is BOOL but holds values other than 0 and 1`);
    const bytes = t.data.length * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }

  let json = JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(json);
  const padded = headerBytes.length + ((8 - (headerBytes.length % 8)) % 8);
  json += ' '.repeat(padded - headerBytes.length);

  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + padded;
  for (const [, t] of entries) {
    writeValues(view, at, t);
    at += t.data.length * DTYPE_BYTES[t.dtype];
  }
  return out;
}

function writeValues(view: DataView, at: number, t: SafetensorsTensor): void {
  const { data } = t;
  if (LITTLE_ENDIAN || data instanceof Uint8Array) {
    new Uint8Array(view.buffer, at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const size = DTYPE_BYTES[t.dtype];
  for (let i = 0; i < data.length; i++) {
    if (t.dtype === 'F32') view.setFloat32(at + i * size, data[i], true);
    else if (t.dtype === 'F64') view.setFloat64(at + i * size, data[i], true);
    else view.setInt32(at + i * size, data[i], true);
  }
}

/**
 * Decode a safetensors file, checking everything; `file` names the file in error messages.
 *
 *   const { tensors } = decodeSafetensors(await readFile(path), path);
 */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const headerLength = checkSafetensorsPrefix(bytes.subarray(0, 8), bytes.length, file);
  const { entries, metadata, dataStart } = parseSafetensorsHeader(
    bytes.subarray(8, 8 + headerLength),
    bytes.length,
    file,
    SAFETENSORS_DTYPES,
  );
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const dtype = e.dtype as SafetensorsDType;
    const data = readValues(bytes, dataStart + e.begin, e.end - e.begin, dtype);
    if (dtype === 'BOOL') {
      const bad = (data as Uint8Array).findIndex((v) => v > 1);
      if (bad >= 0)
        throw new CheckpointError(
          `${file}: tensor "${e.name}": BOOL value ${data[bad]} at flat index ${bad}; expected 0 or 1`,
        );
    }
    tensors.set(e.name, { dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** One tensor of a checked safetensors header; `begin`/`end` are relative to the data buffer. */
export interface SafetensorsHeaderEntry {
  readonly name: string;
  /** One of the format's dtype names (F16, I64, ...), not only those this file can decode. */
  readonly dtype: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Sorted by data offset; together they tile the data buffer exactly. */
  readonly entries: SafetensorsHeaderEntry[];
  readonly metadata: Record<string, string>;
  /** Where the data buffer starts in the file: 8 + the header length. */
  readonly dataStart: number;
}

const failIn =
  (file: string) =>
  (problem: string): never => {
    throw new CheckpointError(`${file}: ${problem}`);
  };

/**
 * Check a file's first 8 bytes (`prefix`, fewer if the file is shorter) against its length in
 * bytes; returns the header length. Shared by the in-memory decoder and the streamed reader.
 *
 *   const headerLength = checkSafetensorsPrefix(first8, size, path);
 */
export function checkSafetensorsPrefix(prefix: Uint8Array, fileLength: number, file: string): number {
  const fail = failIn(file);
  if (fileLength < 8 || prefix.length < 8)
    fail(
      `file is ${fileLength} bytes, shorter than the 8-byte header length; it is truncated or not a safetensors file`,
    );
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileLength - 8))
    fail(
      `header length ${n} runs past the end of the file (${fileLength} bytes); it is truncated or not a safetensors file`,
    );
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  return Number(n);
}

/**
 * Parse and check a header (the `json` bytes after the 8-byte length) of a file of `fileLength`
 * bytes: every entry well formed, sizes matching shape × dtype, offsets tiling the data exactly.
 * `readable` limits the dtypes accepted (by default every dtype the format defines).
 *
 *   const { entries, metadata, dataStart } = parseSafetensorsHeader(json, size, path);
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileLength: number,
  file: string,
  readable: readonly string[] = Object.keys(DTYPE_BYTES),
): SafetensorsHeader {
  const fail = failIn(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail(`header is ${JSON.stringify(header)}, expected a JSON object`);

  const metadata: Record<string, string> = {};
  const entries: SafetensorsHeaderEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        fail('"__metadata__" is not an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" entry "${k}" is ${JSON.stringify(v)}, expected a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = (raw ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      fail(`tensor "${name}": entry is ${JSON.stringify(raw)}, expected { dtype, shape, data_offsets }`);
    if (typeof e.dtype !== 'string') fail(`tensor "${name}": dtype is ${JSON.stringify(e.dtype)}, expected a string`);
    const dtype = e.dtype as string;
    if (!Object.hasOwn(DTYPE_BYTES, dtype))
      fail(`tensor "${name}": unknown dtype "${dtype}" (the format defines ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!readable.includes(dtype))
      fail(`tensor "${name}": dtype ${dtype} is not supported (supported: ${readable.join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor "${name}": shape is ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(
        `tensor "${name}": data_offsets is ${JSON.stringify(offsets)}, expected [begin, end] with 0 <= begin <= end`,
      );
    }
    const [begin, end] = offsets as number[];
    const expected = shapeSize(shape as number[]) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but shape ${fmt(shape as number[])} of ${dtype} needs ${expected}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // The tensors must tile the data buffer exactly: sorted by offset, each starts where the last ended.
  const dataStart = 8 + json.length;
  const dataLength = fileLength - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin < expectedBegin)
      fail(
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap tensor "${previous}" (which ends at ${expectedBegin})`,
      );
    if (e.begin > expectedBegin)
      fail(
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] leave a gap: the previous tensor ends at ${expectedBegin}`,
      );
    if (e.end > dataLength) {
      fail(
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] run past the end of the data (${dataLength} bytes after the header); the file is truncated`,
      );
    }
    expectedBegin = e.end;
    previous = e.name;
  }
  if (expectedBegin !== dataLength)
    fail(
      `${dataLength - expectedBegin} bytes after the last tensor's data (the tensors end at ${expectedBegin}, the data is ${dataLength} bytes)`,
    );
  return { entries, metadata, dataStart };
}

function readValues(bytes: Uint8Array, at: number, length: number, dtype: SafetensorsDType): SafetensorsData {
  // Copy to a fresh (aligned) buffer: file offsets need not be aligned to the element size. Not
  // `bytes.slice`: on a Node Buffer that is a view into a shared pool, not a copy.
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(at, at + length));
  if (dtype === 'U8' || dtype === 'BOOL') return copy;
  const Array_ = ARRAY_TYPE[dtype];
  if (LITTLE_ENDIAN) return new Array_(copy.buffer);
  const view = new DataView(copy.buffer);
  const out = new Array_(length / DTYPE_BYTES[dtype]);
  for (let i = 0; i < out.length; i++) {
    out[i] =
      dtype === 'F32'
        ? view.getFloat32(4 * i, true)
        : dtype === 'F64'
          ? view.getFloat64(8 * i, true)
          : view.getInt32(4 * i, true);
  }
  return out;
}
