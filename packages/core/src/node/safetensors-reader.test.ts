// The streamed safetensors reader: F16 and BF16 decoded against bit patterns built by hand, a slow
// reference decoder written from the IEEE formula (every one of the 65536 patterns, and a tensor
// spanning several read chunks) and PyTorch's own conversions (fixtures/half_floats.json, made by
// fixtures/make_half_fixtures.py); a sharded model folder written here read back tensor by tensor;
// each malformed folder a one-line CheckpointError naming the file and tensor, with no handle left
// open; and reading one small tensor of a 512 MB file reading only the header and that tensor.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { CheckpointError } from '../errors.js';
import { encodeSafetensors } from '../checkpoint/safetensors.js';
import { openSafetensors, openSafetensorsModel } from './safetensors-reader.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'safetensors-reader-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let folders = 0;
async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = join(root, `m${folders++}`);
  await mkdir(dir);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return dir;
}

/** A file from a header object and data bytes, laid out by hand (header not padded). */
function fileOf(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** 16-bit patterns as little-endian bytes. */
const le16 = (bits: ArrayLike<number>) => {
  const out = new Uint8Array(2 * bits.length);
  for (let i = 0; i < bits.length; i++) {
    out[2 * i] = bits[i] & 0xff;
    out[2 * i + 1] = bits[i] >> 8;
  }
  return out;
};

/** One file holding one 16-bit tensor of the given patterns. */
async function halfFile(dtype: 'F16' | 'BF16', bits: ArrayLike<number>): Promise<string> {
  const header = { t: { dtype, shape: [bits.length], data_offsets: [0, 2 * bits.length] } };
  const dir = await folder({ 'x.safetensors': fileOf(header, le16(bits)) });
  return join(dir, 'x.safetensors');
}

async function readOne(file: string, name = 't'): Promise<Float32Array> {
  const reader = await openSafetensors(file);
  try {
    return await reader.readFloat32(name);
  } finally {
    await reader.close();
  }
}

/** IEEE 754 binary16, decoded from the formula in float64. */
function halfReference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * Math.pow(2, -14) * (m / 1024);
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * Math.pow(2, e - 15) * (1 + m / 1024);
}

/** bfloat16: 8 exponent bits (bias 127) and 7 mantissa bits, decoded from the formula. */
function bfloat16Reference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 0) return sign * Math.pow(2, -126) * (m / 128);
  if (e === 255) return m === 0 ? sign * Infinity : NaN;
  return sign * Math.pow(2, e - 127) * (1 + m / 128);
}

/** Same value, or both NaN; -0 and 0 differ. */
function sameFloat(actual: number, expected: number): boolean {
  return Number.isNaN(expected) ? Number.isNaN(actual) : Object.is(actual, expected);
}

/** The reference's value of every 16-bit pattern, computed once. */
const tabulate = (reference: (h: number) => number) => Float64Array.from({ length: 65536 }, (_, h) => reference(h));

function expectDecoded(got: Float32Array, bits: ArrayLike<number>, reference: (h: number) => number) {
  expect(got.length).toBe(bits.length);
  const expected = tabulate(reference);
  const wrong: string[] = [];
  for (let i = 0; i < bits.length && wrong.length < 5; i++) {
    if (!sameFloat(got[i], expected[bits[i]]))
      wrong.push(`0x${bits[i].toString(16)}: got ${got[i]}, expected ${expected[bits[i]]}`);
  }
  expect(wrong).toEqual([]);
}

/** A seeded stream of 16-bit patterns (an LCG's upper bits). */
function randomBits(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 16;
  }
  return out;
}

const f32bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

describe('F16 and BF16 to float32', () => {
  test('known half patterns, built by hand', async () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc100, -2.5],
      [0x7bff, 65504],
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x3555, 0.333251953125],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
      [0xfd01, NaN],
    ];
    const got = await readOne(
      await halfFile(
        'F16',
        cases.map(([h]) => h),
      ),
    );
    cases.forEach(([h, value], i) => expect(sameFloat(got[i], value), `0x${h.toString(16)} -> ${got[i]}`).toBe(true));
  });

  test('known bfloat16 patterns: the upper 16 bits of float32 values', async () => {
    // Math.fround values whose float32 bits end in 16 zero bits, written as those upper 16 bits.
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc020, -2.5],
      [0x4049, 3.140625], // pi truncated: 0x40490fdb
      [0x7f7f, Math.fround(3.3895313892515355e38)], // largest finite
      [0x0080, 2 ** -126],
      [0x0001, 2 ** -133], // smallest subnormal
      [0x8000, -0],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x7fc0, NaN],
    ];
    for (const [h, value] of cases.filter(([, v]) => !Number.isNaN(v))) {
      const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
      expect(bits >>> 16, String(value)).toBe(h);
      expect(bits & 0xffff, String(value)).toBe(0);
    }
    const got = await readOne(
      await halfFile(
        'BF16',
        cases.map(([h]) => h),
      ),
    );
    cases.forEach(([h, value], i) => expect(sameFloat(got[i], value), `0x${h.toString(16)} -> ${got[i]}`).toBe(true));
  });

  test('every one of the 65536 half and bfloat16 patterns matches the IEEE formula', async () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    expectDecoded(await readOne(await halfFile('F16', all)), all, halfReference);
    expectDecoded(await readOne(await halfFile('BF16', all)), all, bfloat16Reference);
  });

  test('random patterns in tensors spanning several read chunks, at unaligned offsets', async () => {
    const n = 2_300_001; // 4.6 MB of 16-bit values: more than one 4 MiB chunk, not a multiple of it
    const f16 = randomBits(n, 1);
    const bf16 = randomBits(n, 2);
    const header = {
      pad: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
      h: { dtype: 'F16', shape: [n], data_offsets: [3, 3 + 2 * n] },
      b: { dtype: 'BF16', shape: [1, n], data_offsets: [3 + 2 * n, 3 + 4 * n] },
    };
    const data = new Uint8Array(3 + 4 * n);
    data.set(le16(f16), 3);
    data.set(le16(bf16), 3 + 2 * n);
    const dir = await folder({ 'x.safetensors': fileOf(header, data) });
    const reader = await openSafetensors(join(dir, 'x.safetensors'));
    expectDecoded(await reader.readFloat32('h'), f16, halfReference);
    expectDecoded(await reader.readFloat32('b'), bf16, bfloat16Reference);
    await reader.close();
  });

  test("PyTorch's own float16/bfloat16 widening (fixtures/half_floats.json)", async () => {
    const fixture = JSON.parse(readFileSync(new URL('../../fixtures/half_floats.json', import.meta.url), 'utf8')) as {
      f16_bits: number[];
      f16_as_f32_bits: number[];
      bf16_bits: number[];
      bf16_as_f32_bits: number[];
    };
    expect(fixture.f16_bits.length).toBeGreaterThan(40);
    expect(f32bits(await readOne(await halfFile('F16', fixture.f16_bits)))).toEqual(fixture.f16_as_f32_bits);
    expect(f32bits(await readOne(await halfFile('BF16', fixture.bf16_bits)))).toEqual(fixture.bf16_as_f32_bits);
  });

  test('F32 reads as written; F64 is rounded to the nearest float32', async () => {
    const f32 = new Float32Array([1.5, -0, 3e38, Math.PI, -1e-42]);
    const f64 = new Float64Array([Math.E, 1e300, -1e-300, 1 / 3, NaN]);
    const dir = await folder({
      'x.safetensors': encodeSafetensors([
        ['a', { dtype: 'F32', shape: [5], data: f32 }],
        ['d', { dtype: 'F64', shape: [5, 1], data: f64 }],
      ]),
    });
    const reader = await openSafetensors(join(dir, 'x.safetensors'));
    expect(f32bits(await reader.readFloat32('a'))).toEqual(f32bits(f32));
    const d = await reader.readFloat32('d');
    [Math.fround(Math.E), Infinity, -0, Math.fround(1 / 3), NaN].forEach((v, i) =>
      expect(sameFloat(d[i], v), `${f64[i]} -> ${d[i]}`).toBe(true),
    );
    await reader.close();
  });
});

describe('a Hugging Face model folder', () => {
  // Shard 1 by encodeSafetensors (F32); shard 2 by hand: F16, BF16 and an I64 the reader lists but
  // cannot read as float32.
  const wte = new Float32Array([0.5, -1, 2, 4, 8, -16]);
  const ln = new Float32Array([1, 1, 1]);
  const shard1 = encodeSafetensors(
    [
      ['wte.weight', { dtype: 'F32', shape: [2, 3], data: wte }],
      ['ln_f.weight', { dtype: 'F32', shape: [3], data: ln }],
    ],
    { format: 'pt' },
  );
  const shard2 = fileOf(
    {
      __metadata__: { format: 'pt', producer: 'hand' },
      'h.0.attn.c_attn.weight': { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      'h.0.mlp.c_fc.weight': { dtype: 'BF16', shape: [3], data_offsets: [8, 14] },
      position_ids: { dtype: 'I64', shape: [2], data_offsets: [14, 30] },
    },
    new Uint8Array([
      ...le16([0x3c00, 0xc100, 0x7bff, 0x0001]), // 1, -2.5, 65504, 2^-24
      ...le16([0x3f80, 0xc020, 0x7f80]), // 1, -2.5, inf
      ...[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], // 0n, 1n
    ]),
  );
  const S1 = 'model-00001-of-00002.safetensors';
  const S2 = 'model-00002-of-00002.safetensors';
  const weightMap = {
    'wte.weight': S1,
    'ln_f.weight': S1,
    'h.0.attn.c_attn.weight': S2,
    'h.0.mlp.c_fc.weight': S2,
    position_ids: S2,
  };
  const index = (map: Record<string, string> = weightMap) =>
    JSON.stringify({ metadata: { total_size: 74 }, weight_map: map });

  test('a sharded folder reads back tensor by tensor, each tensor knowing its shard', async () => {
    const dir = await folder({ 'model.safetensors.index.json': index(), [S1]: shard1, [S2]: shard2 });
    const reader = await openSafetensorsModel(dir);
    expect([...reader.tensors.keys()]).toEqual([
      'wte.weight',
      'ln_f.weight',
      'h.0.attn.c_attn.weight',
      'h.0.mlp.c_fc.weight',
      'position_ids',
    ]);
    expect(reader.tensors.get('wte.weight')).toEqual({ dtype: 'F32', shape: [2, 3], file: join(dir, S1) });
    expect(reader.tensors.get('h.0.mlp.c_fc.weight')).toEqual({ dtype: 'BF16', shape: [3], file: join(dir, S2) });
    expect(reader.tensors.get('position_ids')).toEqual({ dtype: 'I64', shape: [2], file: join(dir, S2) });
    expect(reader.metadata).toEqual({ format: 'pt', producer: 'hand', total_size: '74' });

    expect(Array.from(await reader.readFloat32('wte.weight'))).toEqual(Array.from(wte));
    expect(Array.from(await reader.readFloat32('ln_f.weight'))).toEqual([1, 1, 1]);
    expect(Array.from(await reader.readFloat32('h.0.attn.c_attn.weight'))).toEqual([1, -2.5, 65504, 2 ** -24]);
    expect(Array.from(await reader.readFloat32('h.0.mlp.c_fc.weight'))).toEqual([1, -2.5, Infinity]);
    await expect(reader.readFloat32('position_ids')).rejects.toThrow(
      `${join(dir, S2)}: tensor "position_ids" is I64; only F32, F16, BF16 and F64 tensors can be read as float32`,
    );
    await expect(reader.readFloat32('lm_head.weight')).rejects.toThrow(`${dir}: no tensor "lm_head.weight"`);
    await reader.close();
    await reader.close();
    await expect(reader.readFloat32('wte.weight')).rejects.toThrow(
      `${join(dir, S1)}: cannot read tensor "wte.weight": the reader is closed`,
    );
  });

  test('a single model.safetensors is preferred over an index', async () => {
    const dir = await folder({ 'model.safetensors': shard1, 'model.safetensors.index.json': '{ broken' });
    const reader = await openSafetensorsModel(dir);
    expect([...reader.tensors.values()].map((t) => t.file)).toEqual([
      join(dir, 'model.safetensors'),
      join(dir, 'model.safetensors'),
    ]);
    expect(reader.metadata).toEqual({ format: 'pt' });
    expect(Array.from(await reader.readFloat32('wte.weight'))).toEqual(Array.from(wte));
    await reader.close();
  });

  describe('errors: one CheckpointError line naming the file and tensor, no handle left open', () => {
    const openFds = () => readdirSync('/proc/self/fd').length;
    const hasProc = existsSync('/proc/self/fd');

    async function expectOpenFails(files: Record<string, Uint8Array | string>, message: (dir: string) => string) {
      const dir = await folder(files);
      const before = hasProc ? openFds() : 0;
      const error = await openSafetensorsModel(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toBe(message(dir));
      if (hasProc) expect(openFds()).toBe(before);
    }

    test('no weights file in the folder', async () => {
      await expectOpenFails(
        { 'config.json': '{}' },
        (dir) => `${dir}: no model.safetensors or model.safetensors.index.json in the folder`,
      );
      await expectOpenFails(
        { 'pytorch_model.bin': 'x' },
        (dir) =>
          `${dir}: no model.safetensors or model.safetensors.index.json in the folder (found pytorch_model.bin; only safetensors weights can be read)`,
      );
    });

    test('an index naming a missing shard', async () => {
      await expectOpenFails(
        { 'model.safetensors.index.json': index(), [S1]: shard1 },
        (dir) =>
          `${join(dir, 'model.safetensors.index.json')}: shard "${S2}" (holding tensor "h.0.attn.c_attn.weight" and 2 more) is missing from ${dir}`,
      );
    });

    test('a tensor the index maps to a shard that does not hold it', async () => {
      await expectOpenFails(
        { 'model.safetensors.index.json': index({ ...weightMap, 'lm_head.weight': S1 }), [S1]: shard1, [S2]: shard2 },
        (dir) =>
          `${join(dir, S1)}: holds no tensor "lm_head.weight", which ${join(dir, 'model.safetensors.index.json')} maps to this shard`,
      );
      await expectOpenFails(
        { 'model.safetensors.index.json': index({ ...weightMap, 'wte.weight': S2 }), [S1]: shard1, [S2]: shard2 },
        (dir) =>
          `${join(dir, S2)}: holds no tensor "wte.weight", which ${join(dir, 'model.safetensors.index.json')} maps to this shard`,
      );
    });

    test('the same tensor in two shards', async () => {
      const again = encodeSafetensors([['ln_f.weight', { dtype: 'F32', shape: [3], data: ln }]]);
      const map = { ...weightMap, 'ln_f.weight': 'model-extra.safetensors' };
      await expectOpenFails(
        { 'model.safetensors.index.json': index(map), [S1]: shard1, [S2]: shard2, 'model-extra.safetensors': again },
        (dir) =>
          `${join(dir, 'model-extra.safetensors')}: tensor "ln_f.weight" is also in ${join(dir, S1)}; it must be in one shard`,
      );
    });

    test('a truncated shard', async () => {
      await expectOpenFails(
        { 'model.safetensors.index.json': index(), [S1]: shard1, [S2]: shard2.subarray(0, shard2.length - 5) },
        (dir) =>
          `${join(dir, S2)}: tensor "position_ids": data_offsets [14, 30] run past the end of the data (25 bytes after the header); the file is truncated`,
      );
      await expectOpenFails(
        { 'model.safetensors': shard1.subarray(0, 6) },
        (dir) =>
          `${join(dir, 'model.safetensors')}: file is 6 bytes, shorter than the 8-byte header length; it is truncated or not a safetensors file`,
      );
    });

    test('a malformed index', async () => {
      await expectOpenFails(
        {
          'model.safetensors.index.json': JSON.stringify({ weight_map: { 'wte.weight': '../elsewhere.safetensors' } }),
        },
        (dir) =>
          `${join(dir, 'model.safetensors.index.json')}: "weight_map" maps tensor "wte.weight" to "../elsewhere.safetensors", expected a file name in ${dir}`,
      );
      await expectOpenFails(
        { 'model.safetensors.index.json': JSON.stringify({ metadata: {} }) },
        (dir) =>
          `${join(dir, 'model.safetensors.index.json')}: "weight_map" is undefined, expected an object mapping tensor names to shard files`,
      );
    });

    test('a folder that does not exist', async () => {
      const missing = join(root, 'nowhere');
      await expect(openSafetensorsModel(missing)).rejects.toThrow(
        `${missing}: cannot read the model folder (no such folder)`,
      );
      await expect(openSafetensors(join(missing, 'x.safetensors'))).rejects.toThrow(
        `${join(missing, 'x.safetensors')}: cannot open (no such file)`,
      );
    });
  });
});

describe('memory', () => {
  test('reading one small tensor of a 512 MB file reads only the header and that tensor', async () => {
    // A sparse file: a 512 MB F32 tensor of zeros the disk never stores, then 4 values at the end.
    const big = 128 << 20;
    const header = new TextEncoder().encode(
      JSON.stringify({
        big: { dtype: 'F32', shape: [big], data_offsets: [0, 4 * big] },
        small: { dtype: 'F32', shape: [4], data_offsets: [4 * big, 4 * big + 16] },
      }),
    );
    const file = join(root, 'big.safetensors');
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    await writeFile(file, Buffer.concat([prefix, header]));
    const dataStart = 8 + header.length;
    await truncate(file, dataStart + 4 * big + 16);
    const handle = await open(file, 'r+');
    await handle.write(new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer), 0, 16, dataStart + 4 * big);
    const fileHandlePrototype = Object.getPrototypeOf(handle) as { read: (...args: unknown[]) => unknown };
    await handle.close();

    const read = vi.spyOn(fileHandlePrototype, 'read');
    try {
      const rss = process.memoryUsage().rss;
      const reader = await openSafetensors(file);
      expect(reader.tensors.get('big')?.shape).toEqual([big]);
      expect(Array.from(await reader.readFloat32('small'))).toEqual([1, 2, 3, 4]);
      const grown = process.memoryUsage().rss - rss;
      await reader.close();
      const results = await Promise.all(read.mock.results.map((r) => r.value as Promise<{ bytesRead: number }>));
      expect(results.reduce((sum, r) => sum + r.bytesRead, 0)).toBe(8 + header.length + 16);
      expect(grown).toBeLessThan(32 << 20);
    } finally {
      read.mockRestore();
      await rm(file);
    }
  });
});
