// Character frequencies of a text that arrives in pieces: the first pass over a corpus too large to
// hold as one string. Counts live in one table indexed by code point, so a corpus of any size costs
// the same 9 MB and counting is a tight loop. A character is a code point, as `for (const c of s)`
// walks a string (a lone surrogate counts as a character of its own).

/** Code points 0..0x10FFFF. */
const CODE_POINTS = 0x110000;

/**
 * How often each character occurs.
 *
 *   const counts = new CharCounts();
 *   for await (const piece of pieces) counts.add(piece);
 *   counts.characters;        // characters seen
 *   counts.count('e'.codePointAt(0)!);
 */
export class CharCounts {
  private readonly table = new Float64Array(CODE_POINTS);
  private chars = 0;
  private units = 0;

  /** The counts of one whole text. */
  static of(text: string): CharCounts {
    const counts = new CharCounts();
    counts.add(text);
    return counts;
  }

  /** Counts a piece of text. Pieces must not split a surrogate pair (TextDecoder's output never does). */
  add(text: string): void {
    const t = this.table;
    const n = text.length;
    let chars = 0;
    for (let i = 0; i < n; i++) {
      // A surrogate pair is one code point (two units); a lone surrogate stands for itself.
      const c = text.codePointAt(i)!;
      if (c > 0xffff) i++;
      t[c]++;
      chars++;
    }
    this.chars += chars;
    this.units += n;
  }

  /** Characters (code points) counted. */
  get characters(): number {
    return this.chars;
  }

  /** UTF-16 code units counted (a string's `length`). */
  get utf16Length(): number {
    return this.units;
  }

  /** Occurrences of one code point. */
  count(codePoint: number): number {
    return this.table[codePoint] ?? 0;
  }

  /** The code points that occur, ascending. */
  codePoints(): number[] {
    const out: number[] = [];
    const t = this.table;
    for (let c = 0; c < CODE_POINTS; c++) if (t[c] > 0) out.push(c);
    return out;
  }
}

/** How much of a text a vocabulary covers: the characters outside it and their share of the text. */
export interface VocabularyCoverage {
  /** Distinct characters in the text. */
  readonly distinct: number;
  /** The text's characters that are not in the vocabulary, by code point. */
  readonly outside: readonly string[];
  /** Occurrences of those characters. */
  readonly outsideCount: number;
  /** Characters in the text. */
  readonly total: number;
}

/** Which of the counted characters `vocab` lacks, and how often they occur. */
export function vocabularyCoverage(counts: CharCounts, vocab: readonly string[]): VocabularyCoverage {
  const known = new Set(vocab);
  const present = counts.codePoints();
  const outside: string[] = [];
  let outsideCount = 0;
  for (const cp of present) {
    const ch = String.fromCodePoint(cp);
    if (known.has(ch)) continue;
    outside.push(ch);
    outsideCount += counts.count(cp);
  }
  return { distinct: present.length, outside, outsideCount, total: counts.characters };
}
