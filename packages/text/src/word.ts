// The word tokenizer (`word[:N]`, default N = 20000): one token per word, the vocabulary of
// word-vector language models. Its rules, applied in this order:
//   1. A special token written out in the text (`<unk>`, `<|endoftext|>`) is that token; it is
//      matched before normalisation, as Hugging Face matches added tokens.
//   2. The rest is normalised to Unicode NFC, then lower-cased (String.prototype.toLowerCase).
//   3. A token is a word: a run of letters, marks and digits (\p{L}\p{M}\p{N}) with inner
//      apostrophes (' ’) or hyphens between two such runs (don't, well-known), and an inner . or ,
//      between two digits (3.14, 1,000);
//      or any other character that is not whitespace, on its own (each punctuation character is a
//      token), together with the marks, zero-width-joined characters and skin-tone modifiers that
//      follow it, so an emoji sequence (👩‍💻, 👍🏽) stays whole; a regional-indicator pair (a flag)
//      is one token. Whitespace (Unicode White_Space) separates tokens and is dropped.
// The vocabulary is `<unk>` (id 0), `<|endoftext|>` (id 1), then the N-2 most frequent tokens of the
// training text, most frequent first (ties by code-point order); every other token is `<unk>`.
// Decoding joins tokens with one space, except none before closing punctuation (. , ; : ! ? ) ] }
// … % ” ’ ») and none after opening punctuation or a currency sign (( [ { “ ‘ « ¿ ¡ $ £ € ¥); ASCII
// quotes are spaced on both sides, since nothing says whether one opens or closes. The space before a token depends only on
// it and the token before, so decode(ids.slice(0, k)) is always a prefix of decode(ids), which
// StreamDecoder relies on.
// The trainer counts each piece it is given on its own, so it assumes that the caller cuts pieces
// only right before a whitespace character that follows a non-whitespace one (never inside a word);
// NFC and lower-casing give the same result per piece as on the whole text there.
// Saved as a Hugging Face tokenizer.json: a WordLevel model, the normaliser NFC then Lowercase, and
// rule 3 as a Split pre-tokenizer whose pattern reads the same in JavaScript and in Oniguruma (the
// Rust library's regex engine), so @huggingface/tokenizers gives the same ids. The format has no
// decoder for the spacing rule, so the file has none: Hugging Face decodes it with a space between
// every two tokens.
import { type Tokenizer, TokenizerError, type TokenizerPlugin } from '@ganglion/core';

/** The vocabulary size when `word` has no argument. */
export const DEFAULT_WORD_VOCAB = 20000;
/** The token every word outside the vocabulary encodes to. */
export const WORD_UNKNOWN = '<unk>';
/** The token between documents. */
export const WORD_END_OF_TEXT = '<|endoftext|>';

const WORD_CHAR = '\\p{L}\\p{M}\\p{N}';
const WORD = `[${WORD_CHAR}]+(?:(?:['\u2019\\-]|(?<=\\p{N})[.,](?=\\p{N}))[${WORD_CHAR}]+)*`;
// Literal characters rather than \u or \x escapes, which the two regex dialects spell differently.
const FLAG = '[\u{1F1E6}-\u{1F1FF}]{2}';
const ATTACHED = '(?:\\p{M}|\u200D[^\\p{White_Space}]|[\u{1F3FB}-\u{1F3FF}])*';
const SYMBOL = `(?:${FLAG}|[^\\p{White_Space}${WORD_CHAR}])${ATTACHED}`;

/** Rule 3 as one regex: each match is a token; what no match covers is whitespace. */
export const WORD_PATTERN = `${WORD}|${SYMBOL}`;
const TOKEN_RE = new RegExp(WORD_PATTERN, 'gu');

const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '!', '?', ')', ']', '}', '…', '%', '”', '’', '»']);
const NO_SPACE_AFTER = new Set(['(', '[', '{', '“', '‘', '«', '¿', '¡', '$', '£', '€', '¥']);

/** The normaliser of a word tokenizer.json (NFC, then Lowercase). */
const NORMALIZER = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] };

/** The tokens of normalised text under rule 3 (no special tokens). */
function* wordsOf(text: string): Generator<string> {
  for (const m of text.normalize('NFC').toLowerCase().matchAll(TOKEN_RE)) yield m[0];
}

/** Compares by code point (UTF-16 order differs for characters above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A word-level tokenizer.
 *
 *   const tok = WordTokenizer.fromCounts(counts, 100);
 *   tok.decode(tok.encode('Hello, World!'));   // 'hello, world!'
 */
export class WordTokenizer implements Tokenizer {
  readonly kind = 'word';
  private readonly ids: Map<string, number>;
  /** The special tokens written out in text, longest first; undefined when there are none. */
  private readonly specialRe: RegExp | undefined;

  private constructor(
    /** Token text by id. */
    readonly vocab: readonly string[],
    readonly unknownId: number,
    /** The added tokens (matched in the raw text), by content. */
    private readonly specials: ReadonlyMap<string, number>,
  ) {
    this.ids = new Map(vocab.map((w, i) => [w, i]));
    const names = [...specials.keys()].sort((a, b) => b.length - a.length);
    this.specialRe = names.length ? new RegExp(names.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /**
   * `<unk>`, `<|endoftext|>`, then the `size - 2` most frequent tokens (ties by code-point order).
   */
  static fromCounts(counts: ReadonlyMap<string, number>, size: number): WordTokenizer {
    const words = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
      .slice(0, size - 2)
      .map(([w]) => w);
    return new WordTokenizer(
      [WORD_UNKNOWN, WORD_END_OF_TEXT, ...words],
      0,
      new Map([
        [WORD_UNKNOWN, 0],
        [WORD_END_OF_TEXT, 1],
      ]),
    );
  }

  /** True when `json` is a word tokenizer.json: its pre-tokenizer is this file's Split pattern. */
  static isWordJSON(json: unknown): boolean {
    const pre = (json as { pre_tokenizer?: { type?: unknown; pattern?: { Regex?: unknown } } } | null)?.pre_tokenizer;
    return typeof json === 'object' && pre?.type === 'Split' && pre.pattern?.Regex === WORD_PATTERN;
  }

  /** The tokenizer in a word tokenizer.json, checked (a TokenizerError names what is wrong). */
  static fromJSON(json: unknown): WordTokenizer {
    const bad = (what: string) => new TokenizerError(`word tokenizer.json: ${what}`);
    if (!WordTokenizer.isWordJSON(json)) throw bad('the pre-tokenizer is not the word rule (a Split on WORD_PATTERN)');
    const j = json as Record<string, unknown>;
    const pre = j.pre_tokenizer as { behavior?: unknown; invert?: unknown };
    if (pre.behavior !== 'Removed' || pre.invert !== true)
      throw bad(`the Split pre-tokenizer must have behavior "Removed" and invert true`);
    if (JSON.stringify(j.normalizer) !== JSON.stringify(NORMALIZER))
      throw bad(`"normalizer" must be ${JSON.stringify(NORMALIZER)}`);
    const model = j.model as { type?: unknown; vocab?: unknown; unk_token?: unknown } | null;
    if (model === null || typeof model !== 'object' || model.type !== 'WordLevel')
      throw bad(`"model" must be { "type": "WordLevel", ... }`);
    if (model.vocab === null || typeof model.vocab !== 'object' || Array.isArray(model.vocab))
      throw bad('"model.vocab" must be an object of token: id');
    const entries = Object.entries(model.vocab as Record<string, unknown>);
    const vocab: string[] = new Array(entries.length);
    for (const [w, id] of entries) {
      if (!(Number.isInteger(id) && (id as number) >= 0 && (id as number) < entries.length))
        throw bad(
          `"model.vocab" gives ${JSON.stringify(w)} the id ${JSON.stringify(id)}, expected 0..${entries.length - 1}`,
        );
      if (vocab[id as number] !== undefined)
        throw bad(
          `"model.vocab" gives the id ${id} to both ${JSON.stringify(vocab[id as number])} and ${JSON.stringify(w)}`,
        );
      vocab[id as number] = w;
    }
    if (typeof model.unk_token !== 'string' || !(model.unk_token in (model.vocab as object)))
      throw bad(`"model.unk_token" must name a token of the vocabulary, got ${JSON.stringify(model.unk_token)}`);
    const specials = new Map<string, number>();
    const added = j.added_tokens ?? [];
    if (!Array.isArray(added)) throw bad('"added_tokens" must be an array');
    for (const t of added as { id?: unknown; content?: unknown }[]) {
      if (typeof t?.content !== 'string' || vocab[t.id as number] !== t.content)
        throw bad(`added token ${JSON.stringify(t)} must have a "content" and the "id" the vocabulary gives it`);
      specials.set(t.content, t.id as number);
    }
    return new WordTokenizer(vocab, (model.vocab as Record<string, number>)[model.unk_token], specials);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Empty: a word outside the vocabulary encodes to `<unk>`. */
  unknown(): string[] {
    return [];
  }

  encode(text: string): Int32Array {
    const out: number[] = [];
    const words = (section: string) => {
      for (const w of wordsOf(section)) out.push(this.ids.get(w) ?? this.unknownId);
    };
    let from = 0;
    if (this.specialRe) {
      for (const m of text.matchAll(this.specialRe)) {
        words(text.slice(from, m.index));
        out.push(this.specials.get(m[0])!);
        from = m.index! + m[0].length;
      }
    }
    words(from === 0 ? text : text.slice(from));
    return Int32Array.from(out);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    let prev: string | undefined;
    for (let i = 0; i < ids.length; i++) {
      const w = this.vocab[ids[i]];
      if (w === undefined || !Number.isInteger(ids[i]))
        throw new TokenizerError(
          `id ${ids[i]} at position ${i} is outside the vocabulary (ids 0..${this.vocab.length - 1})`,
        );
      if (prev !== undefined && !NO_SPACE_BEFORE.has(w) && !NO_SPACE_AFTER.has(prev)) s += ' ';
      s += w;
      prev = w;
    }
    return s;
  }

  specialId(token: string): number | undefined {
    return this.specials.get(token) ?? (token === WORD_UNKNOWN ? this.unknownId : undefined);
  }

  /** A Hugging Face tokenizer.json (see the file header). */
  toJSON(): object {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...this.specials].map(([content, id]) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: NORMALIZER,
      pre_tokenizer: { type: 'Split', pattern: { Regex: WORD_PATTERN }, behavior: 'Removed', invert: true },
      post_processor: null,
      decoder: null,
      model: {
        type: 'WordLevel',
        // fromEntries, not assignment: a word could be named like an Object.prototype property.
        vocab: Object.fromEntries(this.vocab.map((w, i) => [w, i])),
        unk_token: this.vocab[this.unknownId],
      },
    };
  }
}

/** Counts the tokens of training text (special tokens written in it are not counted). */
function countInto(counts: Map<string, number>, text: string): void {
  for (const section of text.split(/<\|endoftext\|>|<unk>/)) {
    for (const w of wordsOf(section)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
}

export const wordTokenizer: TokenizerPlugin = {
  kind: 'word',
  description: `word[:N]   one token per lower-cased word or punctuation mark: the N-2 most frequent (default N ${DEFAULT_WORD_VOCAB}) plus <unk> and <|endoftext|>`,
  trainer(arg) {
    const size = arg === undefined ? DEFAULT_WORD_VOCAB : /^\d+$/.test(arg) ? Number(arg) : Number.NaN;
    if (!(Number.isSafeInteger(size) && size >= 3))
      throw new TokenizerError(
        `tokenizer word:${arg}: the vocabulary size must be a whole number >= 3 (words plus <unk> and <|endoftext|>)`,
      );
    const counts = new Map<string, number>();
    return {
      add: (text) => countInto(counts, text),
      finish: () => {
        if (counts.size === 0) throw new TokenizerError(`tokenizer word:${size}: the training text has no words`);
        return WordTokenizer.fromCounts(counts, size);
      },
    };
  },
  fromJSON(json) {
    return WordTokenizer.isWordJSON(json) ? WordTokenizer.fromJSON(json) : undefined;
  },
};
