// GPT-2's byte-level scheme, shared by the BPE encoder and its trainer: the map that writes each
// of the 256 bytes as one printable character (the alphabet of a byte-level tokenizer.json, where
// a space is 'Ġ'), the pre-tokenization regex that cuts text into words before BPE runs on each
// word's UTF-8 bytes, the splitter that finds added tokens (`<|endoftext|>`) written out in text,
// and where a stream of text can be cut so that later text cannot change the words before the cut.

/**
 * GPT-2's pre-tokenizer: contractions, letters, digits, other symbols (each optionally after one
 * space), then whitespace, keeping the last space of a run for the word after it. The same pattern
 * as the `ByteLevel` pre-tokenizer of Hugging Face tokenizers and tiktoken's r50k_base.
 */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A fresh global regex for GPT2_PATTERN (a regex with `g` keeps state, so each user gets its own). */
export function preTokenRegex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

/**
 * The character each byte is written as: the printable bytes of Latin-1 (! to ~, ¡ to ¬, ® to ÿ)
 * are themselves, the other 68 are U+0100 onwards in byte order (so 0x20, a space, is 'Ġ').
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : next++);
  }
  return out;
})();

/** Char code -> byte, -1 for characters that stand for no byte (the codes run up to U+0143). */
const CHAR_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (out[c.charCodeAt(0)] = b));
  return out;
})();

/** Bytes written in the byte-level alphabet: [0x20, 0x68, 0x69] -> 'Ġhi'. */
export function bytesToSymbols(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** The bytes a byte-level token stands for, or undefined when a character is outside the alphabet. */
export function symbolsToBytes(symbols: string): Uint8Array | undefined {
  const out = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const c = symbols.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A regex matching the added tokens' literal text, leftmost and then longest first (as Hugging
 * Face's trie does), or undefined for none.
 */
export function addedTokenRegex(contents: readonly string[]): RegExp | undefined {
  if (contents.length === 0) return undefined;
  const sorted = [...new Set(contents)].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
}

/**
 * Calls `word` for each pre-token of `text` in order and returns how much of `text` it covered:
 * all of it when `complete`, else only the words that later text cannot change (the rest is to be
 * given again, followed by that later text). A match of GPT2_PATTERN decides its alternative by
 * looking at most 3 characters past its start (`'re`) and one past its end (`\s+(?!\S)`), so a
 * match that ends before the text does and starts 3 or more characters before the end is the match
 * the whole stream has there; matches tile the text, so the first that is not such a match ends
 * the stable part.
 */
export function forEachPreToken(text: string, re: RegExp, complete: boolean, word: (w: string) => void): number {
  const n = text.length;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = re.lastIndex;
    if (!complete && (end >= n || m.index + 3 > n)) return m.index;
    word(m[0]);
  }
  return n;
}

/** How long the end of `text` is that could be the start of one of `contents` (0 when none could be). */
export function partialAddedTokenTail(text: string, contents: readonly string[]): number {
  let longest = 0;
  for (const c of contents) {
    for (let k = Math.min(c.length - 1, text.length); k > longest; k--) {
      if (text.endsWith(c.slice(0, k))) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}
