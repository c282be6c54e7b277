// A character-level tokenizer: one token per Unicode code point (not per UTF-16 unit, so an
// emoji or a CJK extension character is one token). The vocabulary is the sorted set of the
// training text's characters, so the same text always gives the same ids. A capped vocabulary
// keeps the most frequent characters and adds one unknown token (decoded as U+FFFD, the
// replacement character) that every other character encodes to.

import { GanglionError } from '../errors.js';
import type { CharCounts } from './char-counts.js';
import type { Tokenizer } from './tokenizer.js';

/** Text cannot be encoded (characters outside the vocabulary) or ids cannot be decoded. */
export class TokenizerError extends GanglionError {
  constructor(
    message: string,
    /** The out-of-vocabulary characters, in order of first appearance (empty for other problems). */
    readonly unknown: readonly string[] = [],
  ) {
    super(message);
  }

  /** The error for characters a vocabulary without an unknown token cannot encode. */
  static notInVocabulary(unknown: readonly string[]): TokenizerError {
    const listed = unknown.slice(0, MAX_LISTED).map(describeChar).join(', ');
    const more = unknown.length > MAX_LISTED ? `, and ${unknown.length - MAX_LISTED} more` : '';
    return new TokenizerError(`characters not in the vocabulary: ${listed}${more}`, unknown);
  }
}

/** What `CharTokenizer.toJSON()` writes (checkpoints keep it in meta.json, exports in metadata). */
export interface CharTokenizerJSON {
  readonly kind: 'char';
  readonly vocab: string[];
  /** The id of the unknown token, when the vocabulary has one. */
  readonly unknown?: number;
}

const MAX_LISTED = 20;

/** What the unknown token decodes to: the Unicode replacement character. */
export const UNKNOWN_CHAR = '\uFFFD';

/** `'Ω' (U+03A9)`; control characters are escaped so the message stays on one line. */
function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const shown = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? JSON.stringify(ch).slice(1, -1) : ch;
  return `'${shown}' (${hex})`;
}

/**
 * Character tokenizer.
 *
 *   const tok = CharTokenizer.fromText('hello');   // vocab ['e', 'h', 'l', 'o']
 *   tok.encode('hole');                             // Int32Array [1, 3, 2, 0]
 *   tok.decode(tok.encode('hole'));                 // 'hole'
 */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char';
  private readonly ids: Map<string, number>;
  /** Code point -> id (-1: not in the vocabulary), for the code points up to the largest in it. */
  private table: Int32Array | undefined;

  private constructor(
    readonly vocab: readonly string[],
    /** The id every character outside the vocabulary encodes to; undefined: such characters are an error. */
    readonly unknownId?: number,
  ) {
    this.ids = new Map(vocab.map((c, i) => [c, i]));
  }

  /** The vocabulary of `text`: its distinct characters sorted by code point. */
  static fromText(text: string): CharTokenizer {
    const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (chars.length === 0)
      throw new TokenizerError('CharTokenizer.fromText: the text is empty, so there is no vocabulary');
    return new CharTokenizer(chars);
  }

  /**
   * The vocabulary of counted text: every character sorted by code point when there are at most
   * `maxVocab` (the same ids as `fromText`); otherwise the `maxVocab - 1` most frequent (ties go to
   * the lower code point) sorted by code point, then the unknown token, `maxVocab` ids in all.
   *
   *   CharTokenizer.fromCounts(CharCounts.of('aaabbc'), 3).vocab;   // ['a', 'b', '\uFFFD']
   */
  static fromCounts(counts: CharCounts, maxVocab = Number.POSITIVE_INFINITY): CharTokenizer {
    if (!(maxVocab >= 2 && (Number.isInteger(maxVocab) || maxVocab === Number.POSITIVE_INFINITY))) {
      throw new TokenizerError(
        `CharTokenizer.fromCounts: maxVocab must be a whole number >= 2 (characters plus the unknown token), got ${maxVocab}`,
      );
    }
    const present = counts.codePoints();
    if (present.length === 0)
      throw new TokenizerError('CharTokenizer.fromCounts: the text is empty, so there is no vocabulary');
    if (present.length <= maxVocab) return new CharTokenizer(present.map((cp) => String.fromCodePoint(cp)));
    // The replacement character is the unknown token's own text, so it is not a candidate.
    const kept = present
      .filter((cp) => cp !== 0xfffd)
      .sort((a, b) => counts.count(b) - counts.count(a) || a - b)
      .slice(0, maxVocab - 1)
      .sort((a, b) => a - b);
    return new CharTokenizer([...kept.map((cp) => String.fromCodePoint(cp)), UNKNOWN_CHAR], kept.length);
  }

  /** A tokenizer from its JSON, checked: kind "char", a vocabulary of distinct single characters. */
  static fromJSON(json: unknown): CharTokenizer {
    const j = json as Partial<CharTokenizerJSON> | null;
    if (j === null || typeof j !== 'object' || j.kind !== 'char') {
      throw new TokenizerError(
        `not a character tokenizer: expected { kind: "char", vocab: [...] }, got kind ${JSON.stringify(j === null || typeof j !== 'object' ? j : j.kind)}`,
      );
    }
    if (!Array.isArray(j.vocab) || j.vocab.length === 0)
      throw new TokenizerError('character tokenizer: "vocab" must be a non-empty array of characters');
    const seen = new Map<string, number>();
    j.vocab.forEach((c: unknown, i: number) => {
      if (typeof c !== 'string' || [...c].length !== 1)
        throw new TokenizerError(
          `character tokenizer: vocab[${i}] is ${JSON.stringify(c)}, expected a single character`,
        );
      if (seen.has(c))
        throw new TokenizerError(
          `character tokenizer: ${describeChar(c)} appears twice in the vocabulary (ids ${seen.get(c)} and ${i})`,
        );
      seen.set(c, i);
    });
    if (j.unknown !== undefined && !(Number.isInteger(j.unknown) && j.unknown >= 0 && j.unknown < j.vocab.length)) {
      throw new TokenizerError(
        `character tokenizer: "unknown" is ${JSON.stringify(j.unknown)}, expected the id of a vocabulary entry (0..${j.vocab.length - 1})`,
      );
    }
    return new CharTokenizer([...j.vocab], j.unknown);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /**
   * The characters of `text` that `encode` rejects, each once, in order of first appearance: those
   * outside the vocabulary, or none when the vocabulary has an unknown token.
   */
  unknown(text: string): string[] {
    if (this.unknownId !== undefined) return [];
    const out = new Set<string>();
    for (const c of text) if (!this.ids.has(c)) out.add(c);
    return [...out];
  }

  /**
   * One id per character; a character outside the vocabulary gets the unknown token's id, or,
   * without one, a TokenizerError listing every such character.
   */
  encode(text: string): Int32Array {
    // A string has at least as many UTF-16 units as characters.
    const out = new Int32Array(text.length);
    return out.slice(0, this.encodeInto(text, out));
  }

  /**
   * Encodes `text` into `out` from `offset` and returns the number of ids written; `out` needs
   * room for `text.length` ids (UTF-16 units, at least the characters). The bulk path for corpora
   * encoded a piece at a time; pieces must not split a surrogate pair.
   */
  encodeInto(text: string, out: Int32Array, offset = 0): number {
    const table = this.table ?? this.buildTable();
    const unk = this.unknownId ?? -1;
    const n = text.length;
    let k = offset;
    for (let i = 0; i < n; i++) {
      // A surrogate pair is one code point (two units); a lone surrogate stands for itself.
      const c = text.codePointAt(i)!;
      if (c > 0xffff) i++;
      let id = c < table.length ? table[c] : -1;
      if (id < 0) {
        if (unk < 0) throw TokenizerError.notInVocabulary(this.unknown(text));
        id = unk;
      }
      out[k++] = id;
    }
    return k - offset;
  }

  private buildTable(): Int32Array {
    let max = 0;
    for (const c of this.vocab) max = Math.max(max, c.codePointAt(0)!);
    const table = new Int32Array(max + 1).fill(-1);
    this.vocab.forEach((c, i) => {
      table[c.codePointAt(0)!] = i;
    });
    this.table = table;
    return table;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.vocab[ids[i]];
      if (c === undefined || !Number.isInteger(ids[i])) {
        throw new TokenizerError(
          `id ${ids[i]} at position ${i} is outside the vocabulary (ids 0..${this.vocab.length - 1})`,
        );
      }
      s += c;
    }
    return s;
  }

  /** `<unk>` names the unknown token, when the vocabulary has one. */
  specialId(token: string): number | undefined {
    return token === '<unk>' ? this.unknownId : undefined;
  }

  toJSON(): CharTokenizerJSON {
    return this.unknownId === undefined
      ? { kind: 'char', vocab: [...this.vocab] }
      : { kind: 'char', vocab: [...this.vocab], unknown: this.unknownId };
  }
}
