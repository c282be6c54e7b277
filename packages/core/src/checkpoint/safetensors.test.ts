// safetensors: a file built byte by byte from the format's description decodes; encoding gives
// back the same bytes; every malformed file is a CheckpointError naming the file and the problem.
import { describe, expect, test } from 'vitest';
import { CheckpointError } from '../errors.js';
import { type SafetensorsTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';

const FILE = '/ckpt/model.safetensors';
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** A file from a header object and data bytes (header not padded: decoders must not require it). */
function fileOf(header: unknown, data: number[] | Uint8Array = []): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const expectError = (bytes: Uint8Array, message: RegExp) => {
  const run = () => decodeSafetensors(bytes, FILE);
  expect(run).toThrow(CheckpointError);
  expect(run).toThrow(new RegExp(`^${FILE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${message.source}`));
};

describe('safetensors', () => {
  // Header: 139 bytes of JSON + 5 spaces = 144 = 0x90. Data: w = [1.5, -2] as F32 LE, n = [-3] as I32 LE.
  const header =
    '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
  const handBuilt = new Uint8Array([
    0x90,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    ...ascii(header),
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x00,
    0x00,
    0xc0,
    0x3f,
    /* 1.5 */ 0x00,
    0x00,
    0x00,
    0xc0 /* -2 */,
    0xfd,
    0xff,
    0xff,
    0xff /* -3 */,
  ]);

  test('a file built byte by byte from the spec decodes to the right tensors', () => {
    expect(header.length).toBe(139);
    const { tensors, metadata } = decodeSafetensors(handBuilt, FILE);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['w', 'n']);
    const w = tensors.get('w')!;
    expect(w.dtype).toBe('F32');
    expect(w.shape).toEqual([2]);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w.data)).toEqual([1.5, -2]);
    const n = tensors.get('n')!;
    expect(n.data).toBeInstanceOf(Int32Array);
    expect(Array.from(n.data)).toEqual([-3]);
  });

  test('decodes from a view into a larger buffer at an unaligned offset (a Node Buffer from a pool)', () => {
    const big = new Uint8Array(handBuilt.length + 3);
    big.set(handBuilt, 3);
    const { tensors } = decodeSafetensors(Buffer.from(big.buffer, 3, handBuilt.length), FILE);
    expect(Array.from(tensors.get('w')!.data)).toEqual([1.5, -2]);
    expect(Array.from(tensors.get('n')!.data)).toEqual([-3]);
  });

  test('encoding gives exactly the reference layout (header padded with spaces to 8 bytes)', () => {
    const bytes = encodeSafetensors(
      [
        ['w', { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }],
        ['n', { dtype: 'I32', shape: [1], data: new Int32Array([-3]) }],
      ],
      { format: 'pt' },
    );
    expect(Array.from(bytes)).toEqual(Array.from(handBuilt));
  });

  test('round trip of every supported dtype, scalars and empty tensors, in the order written', () => {
    const tensors = new Map<string, SafetensorsTensor>([
      ['b.f32', { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.1, -1e-30, 3e38, Math.PI, -0, 7]) }],
      ['a.f64', { dtype: 'F64', shape: [2], data: new Float64Array([Math.E, -1e300]) }],
      ['i32', { dtype: 'I32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) }],
      ['u8', { dtype: 'U8', shape: [1, 3], data: new Uint8Array([0, 128, 255]) }],
      ['mask', { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }],
      ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const bytes = encodeSafetensors(tensors, { producer: 'ganglion', note: 'ünïcödé ✓' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = decodeSafetensors(bytes, FILE);
    expect(back.metadata).toEqual({ producer: 'ganglion', note: 'ünïcödé ✓' });
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const b = back.tensors.get(name)!;
      expect(b.dtype, name).toBe(t.dtype);
      expect(b.shape, name).toEqual(t.shape);
      expect(b.data.constructor, name).toBe(t.data.constructor);
      expect(Array.from(b.data), name).toEqual(Array.from(t.data));
    }
    expect(Object.is(back.tensors.get('b.f32')!.data[4], -0)).toBe(true);
  });

  test('an empty file of tensors is valid', () => {
    const bytes = encodeSafetensors(new Map());
    expect(decodeSafetensors(bytes, FILE).tensors.size).toBe(0);
  });

  test('encoding rejects data that does not fit its declaration', () => {
    expect(() => encodeSafetensors([['x', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]])).toThrow(
      /tensor "x" has shape \[2, 2\] \(4 elements\) but 3 values/,
    );
    expect(() => encodeSafetensors([['x', { dtype: 'F32', shape: [2], data: new Int32Array(2) }]])).toThrow(
      /tensor "x" is F32 but its data is a Int32Array, expected Float32Array/,
    );
    expect(() => encodeSafetensors([['__metadata__', { dtype: 'U8', shape: [0], data: new Uint8Array(0) }]])).toThrow(
      CheckpointError,
    );
    expect(() => encodeSafetensors([['m', { dtype: 'BOOL', shape: [1], data: new Uint8Array([2]) }]])).toThrow(
      /BOOL but holds values other than 0 and 1/,
    );
  });

  describe('malformed files', () => {
    const f32 = (n: number) => new Uint8Array(new Float32Array(n).buffer);

    test('shorter than the 8-byte header length', () => {
      expectError(new Uint8Array([1, 2, 3]), /file is 3 bytes, shorter than the 8-byte header length/);
    });

    test('header length beyond the end of the file', () => {
      const bytes = handBuilt.slice();
      new DataView(bytes.buffer).setBigUint64(0, 10_000n, true);
      expectError(bytes, /header length 10000 runs past the end of the file \(164 bytes\)/);
      new DataView(bytes.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
      expectError(bytes, /header length 18446744073709551615 runs past the end of the file/);
    });

    test('invalid JSON, invalid UTF-8, not an object', () => {
      const bad = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, ...ascii('{"w": 1,')]);
      expectError(bad, /header is not valid JSON \(/);
      expectError(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0x28]), /header is not valid UTF-8/);
      expectError(fileOf([1, 2]), /header is \[1,2\], expected a JSON object/);
      expectError(fileOf({ w: 'x' }), /tensor "w": entry is "x", expected \{ dtype, shape, data_offsets \}/);
      expectError(fileOf({ __metadata__: { a: 1 } }), /"__metadata__" entry "a" is 1, expected a string/);
    });

    test('unknown and unsupported dtypes', () => {
      expectError(
        fileOf({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, f32(1)),
        /tensor "w": unknown dtype "F33" \(the format defines BOOL, U8/,
      );
      expectError(
        fileOf({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, f32(1)),
        /tensor "w": dtype F16 is not supported \(supported: F32, F64, I32, U8, BOOL\)/,
      );
    });

    test('bad shapes and offsets', () => {
      expectError(
        fileOf({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)),
        /tensor "w": shape is \[-1\], expected an array of non-negative integers/,
      );
      expectError(
        fileOf({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)),
        /tensor "w": data_offsets is \[4,0\], expected \[begin, end\] with 0 <= begin <= end/,
      );
      expectError(
        fileOf({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, f32(3)),
        /tensor "w": data_offsets \[0, 12\] hold 12 bytes, but shape \[2, 2\] of F32 needs 16/,
      );
    });

    test('overlapping tensors, gaps, trailing bytes', () => {
      const overlap = {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      };
      expectError(fileOf(overlap, f32(3)), /tensor "b": data_offsets \[4, 12\] overlap tensor "a" \(which ends at 8\)/);
      const gap = {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      };
      expectError(fileOf(gap, f32(3)), /tensor "b": data_offsets \[8, 12\] leave a gap: the previous tensor ends at 4/);
      expectError(
        fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)),
        /4 bytes after the last tensor's data/,
      );
    });

    test('truncated data', () => {
      expectError(
        handBuilt.subarray(0, handBuilt.length - 3),
        /tensor "n": data_offsets \[8, 12\] run past the end of the data \(9 bytes after the header\); the file is truncated/,
      );
    });

    test('BOOL values other than 0 and 1', () => {
      expectError(
        fileOf({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, [1, 7]),
        /tensor "m": BOOL value 7 at flat index 1; expected 0 or 1/,
      );
    });
  });
});
