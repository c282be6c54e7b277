// Byte-level BPE as GPT-2 has it (`bpe[:N]`, default N = 8192): text is cut into words by GPT-2's
// regex, each word's UTF-8 bytes start as 256 byte tokens, and the learned merges join adjacent
// tokens, lowest rank first (leftmost on a tie), as long as any pair has a merge. Every text
// encodes (no unknown token): the bytes are the base vocabulary. Added tokens (`<|endoftext|>`)
// written out in text are matched first, leftmost and then longest, and encode as their own ids.
// A lone surrogate (not valid Unicode) encodes as the bytes of U+FFFD, as TextEncoder, Hugging
// Face and tiktoken all do, so it decodes as U+FFFD. Decoding joins the tokens' bytes and decodes
// them as UTF-8 (an incomplete sequence becomes U+FFFD, which StreamDecoder holds back; a leading
// byte-order mark stays a character), an added token as its text.
//
// Saved as a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer, post-processor and
// decoder, no normaliser), so @huggingface/tokenizers gives the same ids; any tokenizer.json with
// exactly that set-up (GPT-2's own) is read back by this fast encoder, which caches each word's ids.
import { type Tokenizer, TokenizerError, type TokenizerPlugin } from '@ganglion/core';
import { type BpeTrainerOptions, BpeTrainer, type BpeVocabulary, vocabSizeProblem } from './bpe-train.js';
import { type AddedToken, type BpeModel, modelOfVocabulary, readByteLevelJSON, tokenizerJSON } from './bpe-json.js';
import { addedTokenRegex, bytesToSymbols, preTokenRegex, symbolsToBytes } from './byte-level.js';

/** The vocabulary size when `bpe` has no argument. */
export const DEFAULT_BPE_VOCAB = 8192;

/** Words up to this many UTF-16 units have their ids cached. */
const CACHE_WORD_MAX = 64;
/** The cache is emptied when it holds this many words (text with endless new words stays bounded). */
const CACHE_MAX = 200_000;
/** Words up to this many bytes are merged by scanning all pairs; longer ones use a heap. */
const SCAN_MAX = 48;

const utf8 = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text, as in Hugging Face's ByteLevel decoder.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A byte-level BPE tokenizer.
 *
 *   const tok = trainBpe(['some text', 'more text'], { vocabSize: 300 });
 *   tok.decode(tok.encode('Hello 👋 world'));   // 'Hello 👋 world'
 *   BpeTokenizer.fromJSON(tok.toJSON());        // the same ids
 */
export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe';
  readonly vocabSize: number;
  /** How many merges it has (rank order). */
  readonly mergeCount: number;
  /** Token text by id (byte-level alphabet; an added token's own text). */
  private readonly tokens: readonly string[];
  private readonly byteId: Int32Array;
  /** (left, right) -> rank. */
  private readonly rankOf: PairRanks;
  /** rank -> the id the merge makes. */
  private readonly mergeResult: Int32Array;
  /** Per id: its bytes, or undefined for an added token (decoded as its text). */
  private readonly bytesOf: (Uint8Array | undefined)[];
  private readonly added: ReadonlyMap<string, AddedToken>;
  private readonly addedById: ReadonlyMap<number, AddedToken>;
  private readonly addedRe: RegExp | undefined;
  private readonly re = preTokenRegex();
  private readonly cache = new Map<string, Int32Array>();
  /** A word's UTF-8 bytes, written in place. */
  private scratch = new Uint8Array(256);
  /** Byte-level token text -> id, for `ignore_merges` (a word that is a token is that token). */
  private readonly wholeWords: ReadonlyMap<string, number> | undefined;

  private constructor(
    m: BpeModel,
    private readonly json: object,
  ) {
    this.tokens = m.tokens;
    this.vocabSize = m.tokens.length;
    this.added = new Map(m.added.map((t) => [t.content, t]));
    this.addedById = new Map(m.added.map((t) => [t.id, t]));
    this.bytesOf = m.tokens.map((t, i) => (this.addedById.has(i) ? undefined : symbolsToBytes(t)));
    this.byteId = m.byteIds;
    this.mergeCount = m.merges.length / 3;
    this.mergeResult = new Int32Array(this.mergeCount);
    this.rankOf = new PairRanks(this.mergeCount);
    for (let r = 0; r < this.mergeCount; r++) {
      // A pair listed twice has its last rank, as in Hugging Face's map of ranks.
      this.rankOf.set(m.merges[3 * r], m.merges[3 * r + 1], r);
      this.mergeResult[r] = m.merges[3 * r + 2];
    }
    this.addedRe = addedTokenRegex(m.added.map((t) => t.content));
    this.wholeWords = m.wholeWords;
  }

  /** The tokenizer a trainer learned. */
  static fromVocabulary(v: BpeVocabulary): BpeTokenizer {
    const model = modelOfVocabulary(v);
    return new BpeTokenizer(model, tokenizerJSON(v, model.added));
  }

  /**
   * The tokenizer in a Hugging Face tokenizer.json when it is byte-level BPE set up as GPT-2's is
   * (BPE model; ByteLevel pre-tokenizer without a prefix space, using the regex; ByteLevel decoder;
   * no normaliser; post-processor ByteLevel or none; no dropout, suffixes or byte fallback; added
   * tokens without lstrip/rstrip/single_word), else undefined. Such a file with a bad vocabulary,
   * merges or added tokens is a TokenizerError.
   */
  static fromJSON(json: unknown): BpeTokenizer | undefined {
    const model = readByteLevelJSON(json);
    return model && new BpeTokenizer(model, json as object);
  }

  encode(text: string): Int32Array {
    const out = new IdList(Math.max(16, text.length >> 2));
    const re = this.addedRe;
    if (!re) {
      this.encodeText(text, out);
      return out.done();
    }
    let from = 0;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > from) this.encodeText(text.slice(from, m.index), out);
      out.push(this.added.get(m[0])!.id);
      from = re.lastIndex;
    }
    if (from < text.length) this.encodeText(from === 0 ? text : text.slice(from), out);
    return out.done();
  }

  decode(ids: ArrayLike<number>): string {
    const n = ids.length;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize))
        throw new TokenizerError(`id ${id} at position ${i} is outside the vocabulary (ids 0..${this.vocabSize - 1})`);
      size += this.bytesOf[id]?.length ?? 0;
    }
    const bytes = new Uint8Array(size);
    let text = '';
    let at = 0;
    let from = 0;
    for (let i = 0; i < n; i++) {
      const b = this.bytesOf[ids[i]];
      if (b) {
        bytes.set(b, at);
        at += b.length;
        continue;
      }
      // An added token: the bytes before it are decoded on their own, then its text follows.
      text += utf8Decoder.decode(bytes.subarray(from, at)) + this.addedById.get(ids[i])!.content;
      from = at;
    }
    return text + utf8Decoder.decode(bytes.subarray(from, at));
  }

  /** Always empty: every byte is a token. */
  unknown(_text: string): string[] {
    return [];
  }

  /** The id of an added token (`<|endoftext|>`), by its text. */
  specialId(token: string): number | undefined {
    return this.added.get(token)?.id;
  }

  /** The token's text in the byte-level alphabet (`Ġthe`), or an added token's own text. */
  tokenText(id: number): string | undefined {
    return this.tokens[id];
  }

  /** The Hugging Face tokenizer.json: the file it was read from, or the one training made. */
  toJSON(): object {
    return this.json;
  }

  private encodeText(text: string, out: IdList): void {
    const re = this.re;
    const cache = this.cache;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const w = m[0];
      let ids = cache.get(w);
      if (ids === undefined) {
        ids = this.encodeWord(w);
        if (w.length <= CACHE_WORD_MAX) {
          if (cache.size >= CACHE_MAX) cache.clear();
          // A long match is a slice that would keep the whole text alive; the key gets its own copy.
          cache.set(w.length > 12 ? (' ' + w).slice(1) : w, ids);
        }
      }
      out.pushAll(ids);
    }
  }

  /** BPE over one word's bytes. */
  private encodeWord(word: string): Int32Array {
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair: 4 for 2).
    if (this.scratch.length < word.length * 3) this.scratch = new Uint8Array(word.length * 3);
    const bytes = this.scratch;
    const n = utf8.encodeInto(word, bytes).written;
    if (this.wholeWords) {
      const id = this.wholeWords.get(bytesToSymbols(bytes.subarray(0, n)));
      if (id !== undefined) return Int32Array.of(id);
    }
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteId[bytes[i]];
    return n <= SCAN_MAX ? this.mergeByScan(sym) : this.mergeByHeap(sym);
  }

  /** Short words: find the lowest-ranked pair (leftmost on a tie), merge it, again. */
  private mergeByScan(sym: Int32Array): Int32Array {
    const ranks = this.rankOf;
    let len = sym.length;
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < len; i++) {
        const r = ranks.get(sym[i], sym[i + 1]);
        if (r >= 0 && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) return len === sym.length ? sym : sym.slice(0, len);
      sym[best] = this.mergeResult[bestRank];
      sym.copyWithin(best + 1, best + 2, len);
      len--;
    }
  }

  /**
   * Long words: the same order with a heap of (rank, position) over a linked list of symbols, so a
   * run of thousands of letters costs n log n, not n².
   */
  private mergeByHeap(sym: Int32Array): Int32Array {
    const ranks = this.rankOf;
    const n = sym.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new MinHeap();
    const offer = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const r = ranks.get(sym[i], sym[j]);
      if (r >= 0) heap.push(r * n + i);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    let len = n;
    while (heap.size > 0) {
      const key = heap.pop();
      const i = key % n;
      const rank = (key - i) / n;
      const j = next[i];
      if (!alive[i] || j < 0 || ranks.get(sym[i], sym[j]) !== rank) continue;
      sym[i] = this.mergeResult[rank];
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      len--;
      if (prev[i] >= 0) offer(prev[i]);
      offer(i);
    }
    const out = new Int32Array(len);
    for (let i = 0, k = 0; i >= 0; i = next[i]) out[k++] = sym[i];
    return out;
  }
}

/**
 * (left id, right id) -> rank, in an open-addressing table of typed arrays: the encoder's inner
 * loop looks a pair up without hashing a double or allocating.
 */
class PairRanks {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly mask: number;
  private readonly shift: number;

  constructor(pairs: number) {
    let bits = 4;
    while (1 << bits < pairs * 2) bits++;
    const size = 1 << bits;
    this.mask = size - 1;
    this.shift = 32 - bits;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.rank = new Int32Array(size);
  }

  private slot(a: number, b: number): number {
    // Multiplicative hashing: the high bits of the product mix every bit of both ids.
    let i = Math.imul(Math.imul(a, 0x9e3779b1) ^ b, 0x85ebca77) >>> this.shift;
    while (this.left[i] >= 0 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }

  set(a: number, b: number, rank: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.rank[i] = rank;
  }

  /** The pair's rank, or -1 when it has no merge. */
  get(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] < 0 ? -1 : this.rank[i];
  }
}

/** A min-heap of numbers. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (a[up] <= x) break;
      a[i] = a[up];
      i = up;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r] < a[l] ? r : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** Ids appended to a growing Int32Array. */
class IdList {
  private a: Int32Array;
  private n = 0;
  constructor(capacity: number) {
    this.a = new Int32Array(capacity);
  }
  private grow(need: number): void {
    const b = new Int32Array(Math.max(need, this.a.length * 2));
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
  push(id: number): void {
    if (this.n === this.a.length) this.grow(this.n + 1);
    this.a[this.n++] = id;
  }
  pushAll(ids: Int32Array): void {
    if (this.n + ids.length > this.a.length) this.grow(this.n + ids.length);
    if (ids.length === 1) this.a[this.n++] = ids[0];
    else {
      this.a.set(ids, this.n);
      this.n += ids.length;
    }
  }
  done(): Int32Array {
    return this.a.slice(0, this.n);
  }
}

/**
 * A BPE tokenizer trained on `texts` (one stream, in order).
 *
 *   const tok = trainBpe(chapters, { vocabSize: 8192 });
 */
export function trainBpe(texts: Iterable<string>, options: BpeTrainerOptions): BpeTokenizer {
  const t = new BpeTrainer(options);
  for (const text of texts) t.add(text);
  return BpeTokenizer.fromVocabulary(t.train());
}

export const bpeTokenizer: TokenizerPlugin = {
  kind: 'bpe',
  description: `bpe[:N]    byte-level BPE as GPT-2's with N tokens (default ${DEFAULT_BPE_VOCAB}): 256 bytes, <|endoftext|>, merges learned from the corpus`,
  trainer(arg) {
    const n = arg === undefined ? DEFAULT_BPE_VOCAB : /^\s*\d+\s*$/.test(arg) ? Number(arg) : NaN;
    const problem = vocabSizeProblem(n, 1);
    if (problem) throw new TokenizerError(`tokenizer bpe:${arg}: ${problem}`);
    const t = new BpeTrainer({ vocabSize: n });
    return { add: (text) => t.add(text), finish: () => BpeTokenizer.fromVocabulary(t.train()) };
  },
  fromJSON: (json) => BpeTokenizer.fromJSON(json),
};

export { BpeTrainer, type BpeTrainerOptions, type BpeVocabulary } from './bpe-train.js';
export type { AddedToken } from './bpe-json.js';
