// Cutting a document's text into pieces a tokenizer can encode one at a time with the same ids as
// the whole text. A piece ends only right before an ASCII whitespace character that follows a
// letter or a digit: GPT-2's pre-tokenizer regex, cl100k/o200k-style ones (Llama 3, GPT-4) and
// word splitters all end a token there and start the next one afresh, so no word or BPE
// pre-token is ever split (after punctuation some of them glue on the newlines that follow, so
// punctuation does not end a piece). Characters are never split either (the text arrives whole
// code points at a time). A run longer than MAX_PIECE_UNITS without such a place is cut anyway,
// before the last ASCII whitespace that follows any non-whitespace character if there is one,
// else where it is, so memory stays bounded on text without spaces.

/** Where a piece may start: these characters. */
const CUT_BEFORE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c]);

/**
 * Whitespace under any definition a tokenizer may use: ECMAScript's `\s` (which includes U+FEFF),
 * Unicode White_Space (which includes U+0085) and Python's `str.isspace` (U+001C..U+001F).
 */
const isAnyWhitespace = (unit: number) =>
  /\s/.test(String.fromCharCode(unit)) || unit === 0x85 || (unit >= 0x1c && unit <= 0x1f);
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** The character that ends right before `text[i]` (a surrogate pair whole). */
function charBefore(text: string, i: number): string {
  const c = text.charCodeAt(i - 1);
  return c >= 0xdc00 && c < 0xe000 && i >= 2 ? text.slice(i - 2, i) : text[i - 1];
}

/** True when a piece may start at `text[i]` (i > 0): ASCII whitespace right after a letter or digit. */
export function isCut(text: string, i: number): boolean {
  return CUT_BEFORE.has(text.charCodeAt(i)) && LETTER_OR_DIGIT.test(charBefore(text, i));
}

/** The weaker cut of an over-long run: ASCII whitespace right after any non-whitespace character. */
function isFallbackCut(text: string, i: number): boolean {
  return CUT_BEFORE.has(text.charCodeAt(i)) && !isAnyWhitespace(text.charCodeAt(i - 1));
}

/** Pieces longer than this without a cut are cut anyway (UTF-16 units). */
export const MAX_PIECE_UNITS = 16 << 20;

export interface Piece {
  readonly text: string;
  /** UTF-16 offset of `text` in its document. */
  readonly offset: number;
  /** True when the piece starts at a cut forced by MAX_PIECE_UNITS, not a safe one. */
  readonly forced: boolean;
}

/**
 * Cuts one document's text, given in chunks of any size, into pieces of about `targetUnits` UTF-16
 * units (longer where no cut is near); `push` returns the pieces ready so far, `end` the rest.
 *
 *   const cutter = new PieceCutter(1 << 20);
 *   for (const chunk of chunks) for (const p of cutter.push(chunk)) encode(p.text);
 *   for (const p of cutter.end()) encode(p.text);
 */
export class PieceCutter {
  private carry = '';
  private offset = 0;
  private forced = false;

  constructor(
    private readonly targetUnits: number,
    private readonly maxUnits = MAX_PIECE_UNITS,
  ) {}

  push(chunk: string): Piece[] {
    const out: Piece[] = [];
    // A long chunk (a big .jsonl record) goes in slices of the target size, so pieces stay small.
    for (let from = 0; from < chunk.length;) {
      let to = Math.min(chunk.length, from + this.targetUnits);
      // Never between the two halves of a surrogate pair.
      const last = chunk.charCodeAt(to - 1);
      if (to < chunk.length && last >= 0xd800 && last < 0xdc00) to++;
      this.add(chunk.slice(from, to), out);
      from = to;
    }
    return out;
  }

  end(): Piece[] {
    const out: Piece[] = [];
    if (this.carry.length > 0) this.emit(this.carry.length, out);
    return out;
  }

  private add(slice: string, out: Piece[]): void {
    const s = this.carry + slice;
    // The carry has no cut after its first unit, so only the new text (and its first unit) can hold one.
    const lowest = Math.max(1, this.carry.length);
    this.carry = s;
    let cut = -1;
    for (let i = s.length - 1; i >= lowest; i--) {
      if (isCut(s, i)) {
        cut = i;
        break;
      }
    }
    if (cut > 0) {
      this.emit(cut, out);
    } else if (s.length >= this.maxUnits) {
      let at = s.length - 1;
      while (at > 0 && !isFallbackCut(s, at)) at--;
      if (at === 0) {
        at = s.length;
        const last = s.charCodeAt(at - 1);
        if (last >= 0xd800 && last < 0xdc00) at--;
      }
      this.emit(at, out);
      this.forced = true;
    }
  }

  private emit(units: number, out: Piece[]): void {
    const text = this.carry.slice(0, units);
    out.push({ text, offset: this.offset, forced: this.forced });
    this.forced = false;
    this.offset += units;
    this.carry = this.carry.slice(units);
  }
}
