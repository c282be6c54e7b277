// A character-level tokenizer: one token per Unicode code point (not per UTF-16 unit, so an
// emoji or a CJK extension character is one token). The vocabulary is the sorted set of the
// training text's characters, so the same text always gives the same ids.

import { GanglionError } from '../errors.js';

/** Text cannot be encoded (characters outside the vocabulary) or ids cannot be decoded. */
export class TokenizerError extends GanglionError {
  constructor(
    message: string,
    /** The out-of-vocabulary characters, in order of first appearance (empty for other problems). */
    readonly unknown: readonly string[] = [],
  ) {
    super(message);
  }
}

/** What `CharTokenizer.toJSON()` writes (checkpoints keep it in meta.json). */
export interface CharTokenizerJSON {
  readonly kind: 'char';
  readonly vocab: string[];
}

const MAX_LISTED = 20;

/** `'Ω' (U+03A9)`; control characters are escaped so the message stays on one line. */
export function describeChar(ch: string): string {
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
export class CharTokenizer {
  private readonly ids: Map<string, number>;

  private constructor(readonly vocab: readonly string[]) {
    this.ids = new Map(vocab.map((c, i) => [c, i]));
  }

  /** The vocabulary of `text`: its distinct characters sorted by code point. */
  static fromText(text: string): CharTokenizer {
    const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (chars.length === 0) throw new TokenizerError('CharTokenizer.fromText: the text is empty, so there is no vocabulary');
    return new CharTokenizer(chars);
  }

  /** A tokenizer from its JSON, checked: kind "char", a vocabulary of distinct single characters. */
  static fromJSON(json: unknown): CharTokenizer {
    const j = json as Partial<CharTokenizerJSON> | null;
    if (j === null || typeof j !== 'object' || j.kind !== 'char') {
      throw new TokenizerError(`not a character tokenizer: expected { kind: "char", vocab: [...] }, got kind ${JSON.stringify(j === null || typeof j !== 'object' ? j : j.kind)}`);
    }
    if (!Array.isArray(j.vocab) || j.vocab.length === 0) throw new TokenizerError('character tokenizer: "vocab" must be a non-empty array of characters');
    const seen = new Map<string, number>();
    j.vocab.forEach((c: unknown, i: number) => {
      if (typeof c !== 'string' || [...c].length !== 1) throw new TokenizerError(`character tokenizer: vocab[${i}] is ${JSON.stringify(c)}, expected a single character`);
      if (seen.has(c)) throw new TokenizerError(`character tokenizer: ${describeChar(c)} appears twice in the vocabulary (ids ${seen.get(c)} and ${i})`);
      seen.set(c, i);
    });
    return new CharTokenizer([...j.vocab]);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The characters of `text` outside the vocabulary, each once, in order of first appearance. */
  unknown(text: string): string[] {
    const out = new Set<string>();
    for (const c of text) if (!this.ids.has(c)) out.add(c);
    return [...out];
  }

  /** One id per character; throws a TokenizerError listing every unknown character. */
  encode(text: string): Int32Array {
    // A string has at least as many UTF-16 units as characters.
    const out = new Int32Array(text.length);
    let n = 0;
    for (const c of text) {
      const id = this.ids.get(c);
      if (id === undefined) {
        const unknown = this.unknown(text);
        const listed = unknown.slice(0, MAX_LISTED).map(describeChar).join(', ');
        const more = unknown.length > MAX_LISTED ? `, and ${unknown.length - MAX_LISTED} more` : '';
        throw new TokenizerError(`characters not in the vocabulary: ${listed}${more}`, unknown);
      }
      out[n++] = id;
    }
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.vocab[ids[i]];
      if (c === undefined || !Number.isInteger(ids[i])) {
        throw new TokenizerError(`id ${ids[i]} at position ${i} is outside the vocabulary (ids 0..${this.vocab.length - 1})`);
      }
      s += c;
    }
    return s;
  }

  toJSON(): CharTokenizerJSON {
    return { kind: 'char', vocab: [...this.vocab] };
  }
}
