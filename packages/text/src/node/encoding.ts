// What a corpus file that is not UTF-8 is instead, so the error can say which encoding to convert
// from: UTF-16 or UTF-32 (a byte-order mark, or NUL bytes in their telltale places), an 8-bit
// legacy text (Latin-1 / Windows-1252: invalid UTF-8 in otherwise printable bytes), or binary.
// Nothing here reads files; the sources call it on the bytes they read.

/** The first bytes of a file that the NUL and byte-order-mark checks look at, as `file` and git do. */
export const SNIFF_BYTES = 65536;

/** `UTF-16 LE (a byte-order mark)` when `head` starts like another Unicode encoding; undefined otherwise. */
export function byteOrderMark(head: Uint8Array): string | undefined {
  const [a, b, c, d] = head;
  if (a === 0x00 && b === 0x00 && c === 0xfe && d === 0xff) return 'UTF-32 BE';
  if (a === 0xff && b === 0xfe && c === 0x00 && d === 0x00) return 'UTF-32 LE';
  if (a === 0xfe && b === 0xff) return 'UTF-16 BE';
  if (a === 0xff && b === 0xfe) return 'UTF-16 LE';
  return undefined;
}

/**
 * What the NUL bytes of a file's first bytes say it is: text in UTF-32 (three NULs in every four
 * bytes of ASCII text) or UTF-16 (a NUL every other byte), else binary.
 */
export function nulEncoding(head: Uint8Array): string {
  const zeros4 = [0, 0, 0, 0];
  const n = head.length - (head.length % 4);
  for (let i = 0; i < n; i++) if (head[i] === 0) zeros4[i % 4]++;
  const quarter = n / 4;
  const share = zeros4.map((z) => (quarter > 0 ? z / quarter : 0));
  if (n >= 8) {
    if (share[0] < 0.5 && share[1] > 0.9 && share[2] > 0.9 && share[3] > 0.9) return 'UTF-32 LE';
    if (share[3] < 0.5 && share[0] > 0.9 && share[1] > 0.9 && share[2] > 0.9) return 'UTF-32 BE';
    const even = (share[0] + share[2]) / 2;
    const odd = (share[1] + share[3]) / 2;
    if (odd > 0.6 && even < 0.2) return 'UTF-16 LE';
    if (even > 0.6 && odd < 0.2) return 'UTF-16 BE';
  }
  return 'binary';
}

/** The names `iconv -f` knows the encodings by. */
const ICONV: Readonly<Record<string, string>> = {
  'UTF-16 LE': 'UTF-16LE',
  'UTF-16 BE': 'UTF-16BE',
  'UTF-32 LE': 'UTF-32LE',
  'UTF-32 BE': 'UTF-32BE',
};

/** The one-line advice for a file in `encoding` (a key of ICONV, 'binary' or a legacy 8-bit name). */
export function encodingAdvice(path: string, encoding: string, why: string): string {
  if (encoding === 'binary') return `corpus "${path}" looks binary (${why}); give a UTF-8 text file`;
  const from = ICONV[encoding] ?? 'WINDOWS-1252';
  return `corpus "${path}" is ${encoding}, not UTF-8 (${why}); convert it first, e.g. iconv -f ${from} -t UTF-8 "${path}" > converted.txt`;
}

/**
 * The bytes of an incomplete UTF-8 sequence at the end of `bytes` (a decoder holds them back until
 * the next chunk), or an empty array.
 */
export function incompleteTail(bytes: Uint8Array): Uint8Array {
  for (let k = 1; k <= 3 && k <= bytes.length; k++) {
    const b = bytes[bytes.length - k];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? bytes.subarray(bytes.length - k) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

/**
 * The index of the first byte of the first invalid UTF-8 sequence in `bytes` (the WHATWG decoder's
 * rules: no overlong forms, no surrogates, nothing past U+10FFFF), or -1. A sequence cut by the
 * end of `bytes` is invalid only when `final`.
 */
export function invalidUtf8At(bytes: Uint8Array, final: boolean): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return final ? i : -1;
      const c = bytes[i + k];
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * What invalid UTF-8 in `context` (the bytes read around it) says the file is: a legacy 8-bit
 * text when the bytes are otherwise printable (few control bytes), else binary.
 */
export function legacyEncoding(context: Uint8Array): string {
  let controls = 0;
  let c1 = 0;
  for (const b of context) {
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) controls++;
    if (b >= 0x80 && b <= 0x9f) c1++;
  }
  if (controls > context.length / 100) return 'binary';
  // 0x80..0x9F are control codes in Latin-1 but quotes, dashes and € in Windows-1252.
  return c1 > 0 ? 'Windows-1252' : 'Latin-1 (ISO-8859-1) or Windows-1252';
}
