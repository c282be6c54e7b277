// The UTF-8 checks against Node's own decoders: `invalidUtf8At` finds the byte where the WHATWG
// decoder puts its first U+FFFD, on random bytes; the sniffers name the encodings Node writes.
import { describe, expect, test } from 'vitest';
import { byteOrderMark, incompleteTail, invalidUtf8At, legacyEncoding, nulEncoding } from './encoding.js';

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that are mostly UTF-8 (valid characters) with some stray or truncated bytes. */
function mostlyUtf8(rand: () => number, n: number): Buffer {
  const parts: Buffer[] = [];
  while (parts.reduce((k, p) => k + p.length, 0) < n) {
    const r = rand();
    if (r < 0.6) parts.push(Buffer.from(String.fromCodePoint(Math.floor(rand() * 0x80))));
    else if (r < 0.9) {
      let cp = Math.floor(rand() * 0x10ffff);
      if (cp >= 0xd800 && cp < 0xe000) cp = 0x4e00;
      const b = Buffer.from(String.fromCodePoint(cp));
      // Now and then a character cut short.
      parts.push(rand() < 0.1 ? b.subarray(0, Math.max(1, b.length - 1)) : b);
    } else parts.push(Buffer.from([Math.floor(rand() * 256)]));
  }
  return Buffer.concat(parts);
}

describe('invalidUtf8At', () => {
  test('is where the WHATWG decoder (TextDecoder) writes its first U+FFFD, on 2,000 random byte strings', () => {
    const rand = random(7);
    let invalid = 0;
    for (let k = 0; k < 2000; k++) {
      const bytes = mostlyUtf8(rand, 1 + Math.floor(rand() * 40));
      if (bytes.includes(Buffer.from('\uFFFD'))) continue;
      const decoded = new TextDecoder('utf-8').decode(bytes);
      const first = decoded.indexOf('\uFFFD');
      const expected = first < 0 ? -1 : Buffer.byteLength(decoded.slice(0, first));
      expect(invalidUtf8At(bytes, true), bytes.toString('hex')).toBe(expected);
      if (expected >= 0) invalid++;
    }
    expect(invalid).toBeGreaterThan(500);
  });

  test('a sequence cut by the end of a chunk is valid until the chunk is the last', () => {
    const euro = Buffer.from('a€'); // 61 E2 82 AC
    expect(invalidUtf8At(euro.subarray(0, 3), false)).toBe(-1);
    expect(invalidUtf8At(euro.subarray(0, 3), true)).toBe(1);
    expect(Array.from(incompleteTail(euro.subarray(0, 3)))).toEqual([0xe2, 0x82]);
    expect(incompleteTail(euro).length).toBe(0);
    expect(incompleteTail(Buffer.from('abc')).length).toBe(0);
  });
});

describe('encoding sniffers', () => {
  const text = 'Call me Ishmael. Some years ago, never mind how long precisely.';
  test('byte-order marks of the encodings Node writes', () => {
    expect(byteOrderMark(Buffer.from(`\uFEFF${text}`, 'utf16le'))).toBe('UTF-16 LE');
    expect(byteOrderMark(Buffer.from(`\uFEFF${text}`, 'utf16le').swap16())).toBe('UTF-16 BE');
    expect(byteOrderMark(Buffer.from([0xff, 0xfe, 0, 0, 0x41, 0, 0, 0]))).toBe('UTF-32 LE');
    expect(byteOrderMark(Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x41]))).toBe('UTF-32 BE');
    expect(byteOrderMark(Buffer.from(`\uFEFF${text}`))).toBeUndefined();
  });

  test('NUL bytes: UTF-16 and UTF-32 without a byte-order mark, else binary', () => {
    const utf16le = Buffer.from(text, 'utf16le');
    expect(nulEncoding(utf16le)).toBe('UTF-16 LE');
    expect(nulEncoding(Buffer.from(utf16le).swap16())).toBe('UTF-16 BE');
    const utf32le = Buffer.alloc(text.length * 4);
    for (let i = 0; i < text.length; i++) utf32le.writeUInt32LE(text.charCodeAt(i), i * 4);
    expect(nulEncoding(utf32le)).toBe('UTF-32 LE');
    expect(nulEncoding(Buffer.from(utf32le).swap32())).toBe('UTF-32 BE');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37) % 256));
    expect(nulEncoding(binary)).toBe('binary');
  });

  test('invalid UTF-8 in printable text is a legacy 8-bit encoding; among control bytes, binary', () => {
    expect(legacyEncoding(Buffer.from('café naïve', 'latin1'))).toBe('Latin-1 (ISO-8859-1) or Windows-1252');
    // Windows-1252 curly quotes are 0x93 and 0x94.
    expect(
      legacyEncoding(Buffer.concat([Buffer.from('say '), Buffer.from([0x93]), Buffer.from('hi'), Buffer.from([0x94])])),
    ).toBe('Windows-1252');
    expect(legacyEncoding(Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 97) % 256)))).toBe('binary');
  });
});
