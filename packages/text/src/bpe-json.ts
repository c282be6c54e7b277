// Byte-level BPE's Hugging Face tokenizer.json: what a trained vocabulary saves as (the layout
// Hugging Face's own trainer writes: BPE model, ByteLevel pre-tokenizer, post-processor and decoder,
// no normaliser, merges as "left right"), and which files the fast encoder reads: byte-level BPE
// set up exactly as GPT-2's is (anything else is left to the `hf` plugin), checked so that a bad
// vocabulary, merge list or added token is one TokenizerError line saying what is wrong.
import { TokenizerError } from '@ganglion/core';
import type { BpeVocabulary } from './bpe-train.js';
import { BYTE_TO_CHAR, symbolsToBytes } from './byte-level.js';

/** What the messages about a file call it. */
const WHERE = 'byte-level BPE tokenizer.json';

/** A token matched in text as itself (`<|endoftext|>`). */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

/** What the encoder runs on. */
export interface BpeModel {
  /** Token text by id: the byte-level alphabet, an added token's own text. */
  readonly tokens: readonly string[];
  /** Byte -> its token's id. */
  readonly byteIds: Int32Array;
  /** Merge r: left id, right id, the id it makes, at 3r, 3r+1, 3r+2. */
  readonly merges: Int32Array;
  readonly added: readonly AddedToken[];
  /** `ignore_merges`: a word that is a token (by its byte-level text) is that token. */
  readonly wholeWords?: ReadonlyMap<string, number>;
}

/** The encoder's model of a trained vocabulary: bytes are ids 0-255, the special tokens 256 onwards. */
export function modelOfVocabulary(v: BpeVocabulary): BpeModel {
  const added = v.specials.map((content, i) => ({ id: 256 + i, content, special: true }));
  const ids = new Map(v.tokens.map((t, i) => [t, i]));
  const n = v.mergePairs.length / 2;
  const merges = new Int32Array(n * 3);
  for (let r = 0; r < n; r++) {
    const [a, b] = [v.mergePairs[2 * r], v.mergePairs[2 * r + 1]];
    merges.set([a, b, ids.get(v.tokens[a] + v.tokens[b])!], 3 * r);
  }
  return { tokens: v.tokens, byteIds: Int32Array.from({ length: 256 }, (_, b) => b), merges, added };
}

/** The tokenizer.json of a trained vocabulary (the layout Hugging Face's own trainer writes). */
export function tokenizerJSON(v: BpeVocabulary, added: readonly AddedToken[]): object {
  // A prototype-free object: a token may be spelled `__proto__`.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  v.tokens.forEach((t, i) => (vocab[t] = i));
  const merges: string[] = [];
  for (let r = 0; r < v.mergePairs.length; r += 2)
    merges.push(`${v.tokens[v.mergePairs[r]]} ${v.tokens[v.mergePairs[r + 1]]}`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: { ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

type Obj = Record<string, unknown>;
const isObject = (x: unknown): x is Obj => x !== null && typeof x === 'object' && !Array.isArray(x);
const absentOr = (x: unknown, ...allowed: unknown[]) => x === undefined || allowed.includes(x);
const fail = (what: string): never => {
  throw new TokenizerError(`${WHERE}: ${what}`);
};
const show = (x: unknown): string => {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Whether `json` is byte-level BPE set up as this encoder runs it; see BpeTokenizer.fromJSON. */
function isByteLevelSetup(json: unknown): json is Obj & { model: Obj } {
  if (!isObject(json) || !isObject(json.model) || json.model.type !== 'BPE') return false;
  const m = json.model;
  const pre = json.pre_tokenizer;
  const post = json.post_processor;
  const dec = json.decoder;
  return (
    absentOr(json.normalizer, null) &&
    isObject(pre) &&
    pre.type === 'ByteLevel' &&
    pre.add_prefix_space === false &&
    absentOr(pre.use_regex, true) &&
    isObject(dec) &&
    dec.type === 'ByteLevel' &&
    (absentOr(post, null) || (isObject(post) && post.type === 'ByteLevel')) &&
    absentOr(m.dropout, null, 0) &&
    absentOr(m.continuing_subword_prefix, null, '') &&
    absentOr(m.end_of_word_suffix, null, '') &&
    absentOr(m.byte_fallback, null, false) &&
    absentOr(m.ignore_merges, null, false, true) &&
    (json.added_tokens === undefined ||
      !Array.isArray(json.added_tokens) ||
      json.added_tokens.every((t) => !isObject(t) || (!t.lstrip && !t.rstrip && !t.single_word)))
  );
}

export function readByteLevelJSON(json: unknown): BpeModel | undefined {
  if (!isByteLevelSetup(json)) return undefined;
  const model = json.model;
  const vocab = model.vocab;
  if (!isObject(vocab)) return fail(`model.vocab must be an object of token -> id, got ${show(vocab)}`);
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (!(Number.isInteger(id) && (id as number) >= 0))
      return fail(`model.vocab gives ${show(token)} the id ${show(id)}; ids are whole numbers from 0`);
    const i = id as number;
    if (tokens[i] !== undefined)
      return fail(`model.vocab gives the id ${i} to both ${show(tokens[i])} and ${show(token)}`);
    tokens[i] = token;
  }
  const rawAdded = json.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) return fail(`added_tokens must be an array, got ${show(rawAdded)}`);
  const added: AddedToken[] = [];
  const addedIds = new Set<number>();
  for (const [k, t] of rawAdded.entries()) {
    if (
      !isObject(t) ||
      typeof t.content !== 'string' ||
      t.content === '' ||
      !Number.isInteger(t.id) ||
      (t.id as number) < 0
    )
      return fail(`added_tokens[${k}] must have a non-empty "content" and a whole-number "id", got ${show(t)}`);
    const id = t.id as number;
    if (tokens[id] !== undefined && tokens[id] !== t.content && !addedIds.has(id))
      return fail(`added token ${show(t.content)} has the id ${id}, which model.vocab gives to ${show(tokens[id])}`);
    if (addedIds.has(id)) return fail(`added_tokens list the id ${id} twice`);
    addedIds.add(id);
    tokens[id] = t.content;
    added.push({ id, content: t.content, special: t.special === true });
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined)
      return fail(`ids must run from 0 to ${tokens.length - 1} without a gap, but no token has the id ${i}`);
  }
  for (let i = 0; i < tokens.length; i++) {
    if (!addedIds.has(i) && symbolsToBytes(tokens[i]) === undefined)
      return fail(`model.vocab token ${show(tokens[i])} (id ${i}) is not written in the byte-level alphabet`);
  }
  // Token text -> id as Hugging Face's BPE model has it: the vocabulary, then the added tokens over it.
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => addedIds.has(i) || ids.set(t, i));
  const vocabIds = new Map(ids);
  for (const t of added) ids.set(t.content, t.id);
  // A byte without its token would make text that no id can say; Hugging Face's own runner reads such a file.
  if (BYTE_TO_CHAR.some((c) => !ids.has(c))) return undefined;
  const merges = model.merges;
  if (!Array.isArray(merges)) return fail(`model.merges must be an array, got ${show(merges)}`);
  const triples = new Int32Array(merges.length * 3);
  for (const [r, m] of merges.entries()) {
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
      return fail(`model.merges[${r}] must be "left right" or ["left", "right"], got ${show(m)}`);
    for (const side of pair as string[]) {
      if (!ids.has(side)) return fail(`model.merges[${r}] ${show(m)} names ${show(side)}, which is not in model.vocab`);
    }
    const made = pair[0] + pair[1];
    if (!ids.has(made)) return fail(`model.merges[${r}] ${show(m)} makes ${show(made)}, which is not in model.vocab`);
    triples.set([ids.get(pair[0])!, ids.get(pair[1])!, ids.get(made)!], 3 * r);
  }
  return {
    tokens,
    byteIds: Int32Array.from(BYTE_TO_CHAR, (c) => ids.get(c)!),
    merges: triples,
    added,
    wholeWords: model.ignore_merges === true ? vocabIds : undefined,
  };
}
