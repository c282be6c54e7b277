// The byte-level BPE trainer: counts the corpus's pre-tokenized words (GPT-2's regex, on the text
// as one stream however it is cut into pieces, with added tokens like `<|endoftext|>` taken out),
// then learns merges the way Hugging Face's BpeTrainer does: the most frequent adjacent pair over
// the word counts becomes a token, until the vocabulary has N tokens.
//
// Ids: the 256 bytes by value (id = byte), then the special tokens, then one per merge in the
// order learned. Ties between pairs of the same count go to the smaller left id, then the smaller
// right id, so the same corpus always gives the same merges. A merge whose result is already a
// token (ab + c after a + bc) is kept as a merge with the existing id, as Hugging Face does.
//
// Incremental, not O(merges × corpus): each word is stored once with its count; every pair knows
// the words it occurs in (a linked list of word indices, in typed arrays); a merge rewrites only
// those words and adjusts the counts of the pairs around each occurrence; a max-heap with lazy
// deletion finds the next pair (an entry whose count is stale is pushed again with the current one).
import { TokenizerError } from '@ganglion/core';
import { BYTE_TO_CHAR, addedTokenRegex, forEachPreToken, partialAddedTokenTail, preTokenRegex } from './byte-level.js';

export interface BpeTrainerOptions {
  /** The vocabulary size N: the 256 bytes, the special tokens and N - 256 - specials merges (fewer when the corpus runs out of pairs). */
  readonly vocabSize: number;
  /** Added tokens matched in text as themselves; default `['<|endoftext|>']`. */
  readonly specialTokens?: readonly string[];
}

/** What training learned: enough to build a BpeTokenizer. */
export interface BpeVocabulary {
  /** Token text in the byte-level alphabet by id; a special token's entry is its own text. */
  readonly tokens: readonly string[];
  /** Merge r joins ids mergePairs[2r] and mergePairs[2r + 1]. */
  readonly mergePairs: Int32Array;
  /** The special tokens' text; their ids are 256, 257, ... */
  readonly specials: readonly string[];
}

const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|endoftext|>'];

/** The largest N the trainer takes (pair keys are left·N + right in a double). */
const MAX_VOCAB = 1 << 24;

/** Why `n` cannot be the vocabulary size with `specials` special tokens, or undefined when it can. */
export function vocabSizeProblem(n: number, specials: number): string | undefined {
  const least = 256 + specials;
  if (Number.isInteger(n) && n >= least && n <= MAX_VOCAB) return undefined;
  const plural = specials === 1 ? '' : 's';
  return `the vocabulary size must be a whole number from ${least} (256 bytes + ${specials} special token${plural}) to ${MAX_VOCAB}`;
}

const encoder = new TextEncoder();

/**
 * Learns a byte-level BPE vocabulary from text given a piece at a time.
 *
 *   const t = new BpeTrainer({ vocabSize: 8192 });
 *   for (const chapter of chapters) t.add(chapter);
 *   const vocab = t.train();
 */
export class BpeTrainer {
  readonly vocabSize: number;
  readonly specials: readonly string[];
  private readonly words = new Map<string, number>();
  private readonly re = preTokenRegex();
  private readonly addedRe: RegExp | undefined;
  /** The end of the text so far whose words a later piece could still change. */
  private pending = '';
  private trained = false;

  constructor(options: BpeTrainerOptions) {
    this.specials = [...(options.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
    const n = options.vocabSize;
    const problem = vocabSizeProblem(n, this.specials.length);
    if (problem) throw new TokenizerError(`BpeTrainer: ${problem}, got ${n}`);
    for (const s of this.specials) {
      if (typeof s !== 'string' || s.length === 0 || BYTE_TO_CHAR.includes(s))
        throw new TokenizerError(
          `BPE special token ${JSON.stringify(s)}: expected a non-empty string that is not one byte's token`,
        );
    }
    if (new Set(this.specials).size !== this.specials.length)
      throw new TokenizerError(`BPE special tokens ${JSON.stringify(this.specials)}: a token is listed twice`);
    this.vocabSize = n;
    this.addedRe = addedTokenRegex(this.specials);
  }

  /** Counts the words of `text`, read as the continuation of every piece added before it. */
  add(text: string): void {
    if (this.trained) throw new TokenizerError('BpeTrainer.add: the trainer has already trained');
    this.consume(this.pending + text, false);
  }

  /** The vocabulary learned from everything added. */
  train(): BpeVocabulary {
    if (this.trained) throw new TokenizerError('BpeTrainer.train: the trainer has already trained');
    this.consume(this.pending, true);
    this.pending = '';
    this.trained = true;
    const words = this.words;
    return learnMerges(words, this.vocabSize, this.specials, () => words.clear());
  }

  /** Counts the words of `text`; unless `complete`, keeps the end that later text could change. */
  private consume(text: string, complete: boolean): void {
    // Text that could be the start of a special token waits for the next piece.
    const hold = complete ? text.length : text.length - partialAddedTokenTail(text, this.specials);
    let from = 0;
    if (this.addedRe) {
      const re = this.addedRe;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null && m.index < hold; m = re.exec(text)) {
        forEachPreToken(text.slice(from, m.index), this.re, true, this.count);
        from = re.lastIndex;
      }
    }
    const segment = text.slice(from, Math.max(hold, from));
    const used = forEachPreToken(segment, this.re, complete, this.count);
    this.pending = complete ? '' : text.slice(from + used);
  }

  private readonly count = (w: string): void => {
    const n = this.words.get(w);
    if (n !== undefined) this.words.set(w, n + 1);
    // A long match is a slice that would keep the whole piece alive; the key gets its own copy.
    else this.words.set(w.length > 12 ? (' ' + w).slice(1) : w, 1);
  };
}

/** A growable typed array. */
class Grow<T extends Int32Array | Float64Array> {
  constructor(
    public a: T,
    private readonly make: (n: number) => T,
  ) {}
  ensure(n: number): T {
    if (n > this.a.length) {
      const b = this.make(Math.max(n, this.a.length * 2));
      b.set(this.a);
      this.a = b;
    }
    return this.a;
  }
}

/**
 * The merges over counted words. `release` is called once the words are copied into typed
 * arrays, so their strings can be collected while the merges run.
 */
function learnMerges(
  counted: ReadonlyMap<string, number>,
  vocabSize: number,
  specials: readonly string[],
  release: () => void = () => {},
): BpeVocabulary {
  // Words as byte ids, one after another in `sym`; words of one byte have no pairs and are left out.
  let total = 0;
  let nWords = 0;
  const bytesOf: Uint8Array[] = [];
  const countsOf: number[] = [];
  for (const [w, c] of counted) {
    const b = encoder.encode(w);
    if (b.length < 2) continue;
    bytesOf.push(b);
    countsOf.push(c);
    total += b.length;
    nWords++;
  }
  release();
  const sym = new Int32Array(total);
  const wordStart = new Int32Array(nWords);
  const wordLen = new Int32Array(nWords);
  const wordCount = Float64Array.from(countsOf);
  let at = 0;
  for (let w = 0; w < nWords; w++) {
    wordStart[w] = at;
    wordLen[w] = bytesOf[w].length;
    sym.set(bytesOf[w], at);
    at += bytesOf[w].length;
  }
  bytesOf.length = 0;

  // Pairs: index by key left·N + right; count, sides, and the head of the list of words they occur in.
  const V = vocabSize;
  const pairOf = new Map<number, number>();
  const pCount = new Grow(new Float64Array(1 << 16), (n) => new Float64Array(n));
  const pLeft = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  const pRight = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  const pHead = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  /** The last word added to the pair's list (so a word is listed once per pass over it). */
  const pLastWord = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  /** The merge step that last touched the pair (so it is pushed to the heap once per step). */
  const pStamp = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  let nPairs = 0;
  // Occurrence lists: node = (word, next), in a pool with a free list.
  const oWord = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  const oNext = new Grow(new Int32Array(1 << 16), (n) => new Int32Array(n));
  let nNodes = 0;
  let free = -1;

  const pairIndex = (a: number, b: number): number => {
    const key = a * V + b;
    let p = pairOf.get(key);
    if (p === undefined) {
      p = nPairs++;
      pairOf.set(key, p);
      pCount.ensure(nPairs)[p] = 0;
      pLeft.ensure(nPairs)[p] = a;
      pRight.ensure(nPairs)[p] = b;
      pHead.ensure(nPairs)[p] = -1;
      pLastWord.ensure(nPairs)[p] = -1;
      pStamp.ensure(nPairs)[p] = -1;
    }
    return p;
  };
  const listWord = (p: number, w: number): void => {
    if (pLastWord.a[p] === w) return;
    pLastWord.a[p] = w;
    let node: number;
    if (free >= 0) {
      node = free;
      free = oNext.a[free];
    } else {
      node = nNodes++;
      oWord.ensure(nNodes);
      oNext.ensure(nNodes);
    }
    oWord.a[node] = w;
    oNext.a[node] = pHead.a[p];
    pHead.a[p] = node;
  };

  for (let w = 0; w < nWords; w++) {
    const s = wordStart[w];
    const e = s + wordLen[w] - 1;
    for (let i = s; i < e; i++) {
      const p = pairIndex(sym[i], sym[i + 1]);
      pCount.a[p] += wordCount[w];
      listWord(p, w);
    }
  }

  // The heap: most frequent first, then the smaller key (left id, then right id).
  const heap = new PairHeap();
  for (let p = 0; p < nPairs; p++) heap.push(pCount.a[p], pLeft.a[p] * V + pRight.a[p], p);

  const tokens: string[] = [...BYTE_TO_CHAR, ...specials];
  const idOf = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const merges: number[] = [];
  const stamp = new Int32Array(nWords).fill(-1);
  const touched: number[] = [];
  let step = 0;

  while (tokens.length < vocabSize && heap.size > 0) {
    const count = heap.topCount();
    const p = heap.pop();
    const current = pCount.a[p];
    if (count !== current) {
      if (current > 0) heap.push(current, pLeft.a[p] * V + pRight.a[p], p);
      continue;
    }
    if (current <= 0) continue;
    const a = pLeft.a[p];
    const b = pRight.a[p];
    const text = tokens[a] + tokens[b];
    let c = idOf.get(text);
    if (c === undefined) {
      c = tokens.length;
      tokens.push(text);
      idOf.set(text, c);
    }
    merges.push(a, b);
    step++;
    touched.length = 0;
    const change = (x: number, y: number, by: number, w: number): void => {
      const q = pairIndex(x, y);
      pCount.a[q] += by;
      if (by > 0) {
        listWord(q, w);
        if (pStamp.a[q] !== step) {
          pStamp.a[q] = step;
          touched.push(q);
        }
      }
    };
    // Every word the pair occurs in (or did: a list keeps words a pair has since left).
    let node = pHead.a[p];
    pHead.a[p] = -1;
    while (node >= 0) {
      const w = oWord.a[node];
      const next = oNext.a[node];
      oNext.a[node] = free;
      free = node;
      node = next;
      if (stamp[w] === step) continue;
      stamp[w] = step;
      const s = wordStart[w];
      const end = s + wordLen[w];
      const n = wordCount[w];
      let i = s;
      let j = s;
      while (i < end) {
        if (i + 1 < end && sym[i] === a && sym[i + 1] === b) {
          // The symbol before is already rewritten (it may be c itself, after "a b a b").
          if (j > s) {
            change(sym[j - 1], a, -n, w);
            change(sym[j - 1], c, n, w);
          }
          if (i + 2 < end) {
            change(b, sym[i + 2], -n, w);
            change(c, sym[i + 2], n, w);
          }
          sym[j++] = c;
          i += 2;
        } else sym[j++] = sym[i++];
      }
      wordLen[w] = j - s;
    }
    pCount.a[p] = 0;
    pLastWord.a[p] = -1;
    for (const q of touched) if (pCount.a[q] > 0) heap.push(pCount.a[q], pLeft.a[q] * V + pRight.a[q], q);
  }
  return { tokens, mergePairs: Int32Array.from(merges), specials: [...specials] };
}

/** A binary max-heap of (count, key, pair): higher count first, then lower key. */
class PairHeap {
  private counts = new Float64Array(1 << 16);
  private keys = new Float64Array(1 << 16);
  private pairs = new Int32Array(1 << 16);
  size = 0;

  private before(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
    const p = this.pairs[i];
    this.pairs[i] = this.pairs[j];
    this.pairs[j] = p;
  }

  push(count: number, key: number, pair: number): void {
    if (this.size === this.counts.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.counts = grow(this.counts, (n) => new Float64Array(n));
      this.keys = grow(this.keys, (n) => new Float64Array(n));
      this.pairs = grow(this.pairs, (n) => new Int32Array(n));
    }
    let i = this.size++;
    this.counts[i] = count;
    this.keys[i] = key;
    this.pairs[i] = pair;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.before(i, up)) break;
      this.swap(i, up);
      i = up;
    }
  }

  topCount(): number {
    return this.counts[0];
  }

  /** Removes the top entry and returns its pair. */
  pop(): number {
    const top = this.pairs[0];
    const last = --this.size;
    if (last > 0) {
      this.counts[0] = this.counts[last];
      this.keys[0] = this.keys[last];
      this.pairs[0] = this.pairs[last];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const best = r < last && this.before(r, l) ? r : l;
        if (!this.before(best, i)) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}
