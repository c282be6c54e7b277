// The tokenizer contract. A tokenizer turns text into ids and back; every kind (characters, words,
// byte-level BPE, any Hugging Face tokenizer.json) is a plugin declared once as a TokenizerPlugin
// and bound to TOKENS.Tokenizer, so the CLI and a user's code find it by name (`bpe:8192`,
// `word:20000`, `char`, `hf:PATH`). A tokenizer saves as JSON (a Hugging Face tokenizer.json where
// the format can say what it does) and loads back to the same ids. Decoding a stream of ids one at
// a time never emits half a character: `StreamDecoder` holds back an incomplete UTF-8 sequence.

import { TokenizerError } from './char-tokenizer.js';

/** Text to ids and back. */
export interface Tokenizer {
  /** The plugin kind that made it: 'char', 'word', 'bpe', 'hf', ... */
  readonly kind: string;
  /** Ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  /** The text of `ids`; an id outside 0..vocabSize-1 is a TokenizerError. */
  decode(ids: ArrayLike<number>): string;
  /**
   * The characters of `text` that `encode` cannot represent, each once, in order of first
   * appearance; empty when every text encodes (an unknown token, byte fallback).
   */
  unknown(text: string): string[];
  /** The id of a special token (`<|endoftext|>`, `<unk>`), or undefined when it has none of that name. */
  specialId(token: string): number | undefined;
  /** What `tokenizer.json` holds: the plugin's `fromJSON` reads it back to the same ids. */
  toJSON(): object;
}

/** How a plugin reads a file it is named by (Node: fs; a browser: its own storage). */
export interface TextFiles {
  /** The UTF-8 text of the file at `path`; a missing or unreadable file rejects with an Error naming it. */
  readText(path: string): Promise<string>;
}

/** Builds a tokenizer's vocabulary from text seen a piece at a time (pieces never split a character). */
export interface TokenizerTrainer {
  add(text: string): void;
  finish(): Tokenizer;
}

/**
 * A kind of tokenizer, declared once. The argument of a spec (`bpe:8192` → "8192", `hf:PATH` →
 * "PATH") goes to `trainer` or `open`; a kind has one of them.
 */
export interface TokenizerPlugin {
  readonly kind: string;
  /** One line for help text, with the argument: `bpe:N  byte-level BPE with N tokens, trained on the corpus`. */
  readonly description: string;
  /** A trainer for a vocabulary built from the corpus; `arg` is the spec's argument (undefined when absent). */
  trainer?(arg: string | undefined): TokenizerTrainer;
  /** A ready tokenizer from its argument (`hf:PATH`: the file at PATH, read through `files`), without a corpus. */
  open?(arg: string, files: TextFiles): Promise<Tokenizer>;
  /** The tokenizer saved in `json` when it is this kind's format, else undefined (a malformed one of its own is a TokenizerError). */
  fromJSON(json: unknown): Tokenizer | undefined;
}

/** `bpe:8192` → { kind: 'bpe', arg: '8192' }; `char` → { kind: 'char' }. */
export function parseTokenizerSpec(spec: string): { kind: string; arg?: string } {
  const at = spec.indexOf(':');
  return at < 0 ? { kind: spec } : { kind: spec.slice(0, at), arg: spec.slice(at + 1) };
}

/** The plugins bound to TOKENS.Tokenizer, by kind. */
export class TokenizerRegistry {
  private readonly byKind: Map<string, TokenizerPlugin>;

  constructor(plugins: readonly TokenizerPlugin[]) {
    this.byKind = new Map(plugins.map((p) => [p.kind, p]));
  }

  get kinds(): string[] {
    return [...this.byKind.keys()];
  }

  get plugins(): TokenizerPlugin[] {
    return [...this.byKind.values()];
  }

  plugin(kind: string): TokenizerPlugin {
    const p = this.byKind.get(kind);
    if (!p) throw new TokenizerError(`unknown tokenizer "${kind}"; expected one of ${this.kinds.join(', ')}`);
    return p;
  }

  /** The tokenizer saved in `json`, by the first plugin that recognises it. */
  fromJSON(json: unknown, where = 'tokenizer'): Tokenizer {
    for (const p of this.byKind.values()) {
      const t = p.fromJSON(json);
      if (t) return t;
    }
    throw new TokenizerError(
      `${where}: not a tokenizer any plugin reads (${this.kinds.join(', ')}); expected a Hugging Face tokenizer.json or a Ganglion tokenizer`,
    );
  }
}

/** Where the final part of a decoded text ends: before a trailing U+FFFD (an incomplete UTF-8 sequence until a later token completes it) and half a surrogate pair. */
function stableEnd(text: string): number {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0xfffd) end--;
  if (end > 0 && text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) < 0xdc00) end--;
  return end;
}

/**
 * Decodes ids one at a time into text that never ends in half a character: a token that ends
 * inside a UTF-8 sequence (byte-level BPE, decoded as a trailing U+FFFD) or in the first half of a
 * surrogate pair is held back until a later token completes it. It relies on the tokenizer
 * decoding prefix-stably otherwise: decode(ids.slice(0, k)) is a prefix of decode(ids).
 *
 *   const d = new StreamDecoder(tok);
 *   for (const id of ids) process.stdout.write(d.push(id));
 *   process.stdout.write(d.flush());
 */
export class StreamDecoder {
  private readonly ids: number[] = [];
  /** UTF-16 units of the decoded text already returned. */
  private emitted = 0;

  /**
   * `context`: ids already on screen (a prompt): their text is not emitted again, but the text
   * after them decodes in their company (a word tokenizer's space before the next word).
   */
  constructor(
    private readonly tokenizer: Tokenizer,
    context: ArrayLike<number> = [],
  ) {
    for (let i = 0; i < context.length; i++) this.ids.push(context[i]);
    // A prompt is whole text: its decode is final, an unknown token's U+FFFD included.
    this.emitted = context.length > 0 ? tokenizer.decode(this.ids).length : 0;
  }

  /** The new text that `id` completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids);
    return this.advance(text, stableEnd(text));
  }

  /** Whatever is held back, at the end of the stream (an incomplete sequence decodes to U+FFFD). */
  flush(): string {
    return this.advance(this.tokenizer.decode(this.ids), Number.POSITIVE_INFINITY);
  }

  private advance(text: string, end: number): string {
    // Text already written stays written; tokenizers decode prefix-stably, so only new text follows.
    const stable = text.slice(0, end);
    if (stable.length <= this.emitted) return '';
    const out = stable.slice(this.emitted);
    this.emitted = stable.length;
    return out;
  }
}
