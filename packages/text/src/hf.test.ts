// The `hf` tokenizer: Hugging Face tokenizer.json files run by @huggingface/tokenizers. Ids from the
// WordPiece and Unigram fixtures (made by fixtures/make_tokenizer_fixtures.mjs) are checked against
// references written here from the algorithms' definitions (BERT's basic tokenizer and greedy
// longest-match-first WordPiece; the best-scoring Unigram segmentation by brute force); then round
// trips, streaming, files opened by path, which plugin a registry picks, and one-line errors.
import { StreamDecoder, type TextFiles, type Tokenizer, TokenizerError, TokenizerRegistry } from '@ganglion/core';
import { beforeAll, describe, expect, test } from 'vitest';
import { charTokenizer } from './char.js';
import { HfTokenizer, hfTokenizer } from './hf.js';
import { nodeTextFiles } from './node/text-files.js';
import { wordTokenizer } from './word.js';
import { errorOf } from './testing/index.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const WORDPIECE_PATH = fixture('wordpiece.tokenizer.json');
const UNIGRAM_PATH = fixture('unigram.tokenizer.json');

interface WordPieceJSON {
  added_tokens: { id: number; content: string }[];
  model: { vocab: Record<string, number>; unk_token: string; max_input_chars_per_word: number };
}
interface UnigramJSON {
  model: { vocab: [string, number][]; unk_id: number };
}

let wordpieceJSON: WordPieceJSON;
let unigramJSON: UnigramJSON;
let wordpiece: Tokenizer;
let unigram: Tokenizer;

beforeAll(async () => {
  wordpieceJSON = JSON.parse(await nodeTextFiles.readText(WORDPIECE_PATH));
  unigramJSON = JSON.parse(await nodeTextFiles.readText(UNIGRAM_PATH));
  wordpiece = await hfTokenizer.open!(WORDPIECE_PATH, nodeTextFiles);
  unigram = await hfTokenizer.open!(UNIGRAM_PATH, nodeTextFiles);
});

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Splits `text` around the special tokens written in it (matched as they are, longest first). */
function splitSpecials(text: string, specials: string[]): { text: string; special: boolean }[] {
  const out: { text: string; special: boolean }[] = [];
  let from = 0;
  for (let i = 0; i < text.length;) {
    const s = specials.filter((t) => text.startsWith(t, i)).sort((a, b) => b.length - a.length)[0];
    if (s === undefined) {
      i++;
      continue;
    }
    if (i > from) out.push({ text: text.slice(from, i), special: false });
    out.push({ text: s, special: true });
    i += s.length;
    from = i;
  }
  if (from < text.length) out.push({ text: text.slice(from), special: false });
  return out;
}

// --- BERT's basic tokenizer and WordPiece, from the original definitions ------------------------

const isBertChinese = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f);
const isBertPunctuation = (c: string) => {
  const cp = c.codePointAt(0)!;
  return (
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126) ||
    /\p{P}/u.test(c)
  );
};

function bertWords(text: string): string[] {
  let s = '';
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u.test(c) && !'\t\n\r'.includes(c))) continue;
    s += /\s/u.test(c) ? ' ' : isBertChinese(cp) ? ` ${c} ` : c;
  }
  s = s
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '');
  const words: string[] = [];
  for (const chunk of s.split(' ').filter(Boolean)) {
    let word = '';
    for (const c of chunk) {
      if (!isBertPunctuation(c)) word += c;
      else {
        if (word) words.push(word);
        words.push(c);
        word = '';
      }
    }
    if (word) words.push(word);
  }
  return words;
}

function greedyWordPiece(word: string, vocab: Record<string, number>, unk: string, maxChars: number): string[] {
  const chars = [...word];
  if (chars.length > maxChars) return [unk];
  const pieces: string[] = [];
  for (let start = 0; start < chars.length;) {
    let end = chars.length;
    let piece: string | undefined;
    for (; end > start; end--) {
      const candidate = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (Object.hasOwn(vocab, candidate)) {
        piece = candidate;
        break;
      }
    }
    if (piece === undefined) return [unk];
    pieces.push(piece);
    start = end;
  }
  return pieces;
}

function referenceWordPiece(text: string, json: WordPieceJSON): number[] {
  const { vocab, unk_token, max_input_chars_per_word } = json.model;
  const specials = json.added_tokens.map((t) => t.content);
  return splitSpecials(text, specials).flatMap((part) =>
    part.special
      ? [vocab[part.text]]
      : bertWords(part.text).flatMap((w) =>
          greedyWordPiece(w, vocab, unk_token, max_input_chars_per_word).map((p) => vocab[p]),
        ),
  );
}

// --- Unigram: the best-scoring segmentation of each ▁-word, by trying them all ------------------

function referenceUnigram(text: string, json: UnigramJSON): number[] {
  const ids = new Map(json.model.vocab.map(([p], i) => [p, i]));
  const scores = json.model.vocab.map(([, s]) => s);
  const unkId = json.model.unk_id;
  const unkScore = Math.min(...scores) - 10;
  let s = text.normalize('NFKC').replace(/ {2,}/g, ' ').replaceAll(' ', '▁');
  if (!s.startsWith('▁')) s = `▁${s}`;
  const out: number[] = [];
  for (const word of s.split(/(?=▁)/u)) {
    const chars = [...word];
    const n = chars.length;
    expect(n, `word "${word}" is short enough to try every segmentation`).toBeLessThanOrEqual(16);
    let best: { score: number; ids: number[] } | undefined;
    let runnerUp = Number.NEGATIVE_INFINITY;
    // Bit i of `mask` set: a piece boundary after character i.
    for (let mask = 0; mask < 1 << (n - 1); mask++) {
      const segIds: number[] = [];
      let score = 0;
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (i < n - 1 && !(mask & (1 << i))) continue;
        const piece = chars.slice(start, i + 1).join('');
        const id = ids.get(piece);
        if (id !== undefined) {
          segIds.push(id);
          score += scores[id];
        } else if (i === start) {
          segIds.push(unkId);
          score += unkScore;
        } else {
          score = Number.NEGATIVE_INFINITY;
          break;
        }
        start = i + 1;
      }
      if (best === undefined || score > best.score) {
        runnerUp = best?.score ?? runnerUp;
        best = { score, ids: segIds };
      } else runnerUp = Math.max(runnerUp, score);
    }
    expect(best!.score - runnerUp, `no tie for the best segmentation of "${word}"`).toBeGreaterThan(1e-9);
    // Neighbouring unknown characters fuse into one unknown token.
    for (const id of best!.ids) if (!(id === unkId && out.at(-1) === unkId)) out.push(id);
  }
  return out;
}

const WORDPIECE_TEXTS = [
  'Hello, world!',
  'The cats sat on the mat.',
  "Unhappy gaming? It's quick-brown FOX jumping over the lazy dogs!",
  'Café naïve 中文日本語 です',
  'hi😀 x😀y',
  'ctrl\u0000char\u200bzero\tTAB\r\nline',
  'supercalifragilistic xyz123 ##odd',
  'Ωmega and ÆSIR',
  'a'.repeat(120),
  '[CLS] hello [SEP] [MASK]ed',
];

const UNIGRAM_TEXTS = [
  'hello world',
  'the cat sat on the mat',
  'tokenization is playing',
  '日本語 café über',
  'Hello ZZ world',
  'double  space   here',
  'ｆｕｌｌｗｉｄｔｈ ａｎｄ',
  'cafe\u0301 and ü',
  '😀! you and i',
  ' leading space',
];

describe('hf: a WordPiece (BERT) tokenizer.json', () => {
  test.each(WORDPIECE_TEXTS.map((t) => [JSON.stringify(t).slice(0, 40), t]))(
    '%s: ids of BERT basic tokenization + greedy longest-match WordPiece',
    (_name, text) => {
      expect(Array.from(wordpiece.encode(text))).toEqual(referenceWordPiece(text, wordpieceJSON));
    },
  );

  test('raw ids: no [CLS]/[SEP] from the post-processor; vocabulary, specials and JSON as in the file', () => {
    const vocab = wordpieceJSON.model.vocab;
    expect(wordpiece.kind).toBe('hf');
    expect(wordpiece.vocabSize).toBe(Math.max(...Object.values(vocab)) + 1);
    expect(Array.from(wordpiece.encode('hello'))).toEqual([vocab.hello]);
    expect(wordpiece.specialId('[CLS]')).toBe(vocab['[CLS]']);
    expect(wordpiece.specialId('<unk>')).toBe(vocab['[UNK]']);
    expect(wordpiece.specialId('<|endoftext|>')).toBeUndefined();
    expect(wordpiece.unknown('Ωmega ⅀')).toEqual([]);
    expect(wordpiece.toJSON()).toEqual(wordpieceJSON);
  });

  test.each([
    ['hello world', 'hello world'],
    ['The cats sat on the mat.', 'the cats sat on the mat.'],
    ['Unhappy gaming? Café, naïve!', 'unhappy gaming? cafe, naive!'],
  ])('decode(encode(%j)) is the normalised text', (text, expected) => {
    expect(wordpiece.decode(wordpiece.encode(text))).toBe(expected);
  });

  test('decode keeps special tokens', () => {
    const v = wordpieceJSON.model.vocab;
    expect(wordpiece.decode([v['[CLS]'], v.hello, v['[SEP]']])).toBe('[CLS] hello [SEP]');
  });
});

describe('hf: a Unigram (SentencePiece) tokenizer.json', () => {
  test.each(UNIGRAM_TEXTS.map((t) => [JSON.stringify(t), t]))('%s: ids of the best segmentation', (_name, text) => {
    expect(Array.from(unigram.encode(text))).toEqual(referenceUnigram(text, unigramJSON));
  });

  test('raw ids: no </s> from the post-processor; vocabulary and specials as in the file', () => {
    expect(unigram.vocabSize).toBe(unigramJSON.model.vocab.length);
    expect(Array.from(unigram.encode('hello')).at(-1)).not.toBe(unigram.specialId('</s>'));
    expect(unigram.specialId('</s>')).toBe(2);
    expect(unigram.specialId('<unk>')).toBe(unigramJSON.model.unk_id);
    expect(unigram.toJSON()).toEqual(unigramJSON);
  });

  test.each([
    ['the cat sat on the mat', 'the cat sat on the mat'],
    ['日本語 café über 😀!', '日本語 café über 😀!'],
    ['double  space', 'double space'],
    ['ｆｕｌｌｗｉｄｔｈ cafe\u0301', 'fullwidth café'],
    [' leading space', 'leading space'],
  ])('decode(encode(%j)) is the NFKC-normalised text', (text, expected) => {
    expect(expected).toBe(text.normalize('NFKC').replace(/ {2,}/g, ' ').replace(/^ /, ''));
    expect(unigram.decode(unigram.encode(text))).toBe(expected);
  });
});

describe('hf: streaming and prefix-stable decode', () => {
  test('StreamDecoder gives the decode of all ids', () => {
    for (const [tok, texts] of [
      [wordpiece, WORDPIECE_TEXTS],
      [unigram, UNIGRAM_TEXTS],
    ] as const) {
      for (const text of texts) {
        const ids = tok.encode(text);
        const d = new StreamDecoder(tok);
        expect(Array.from(ids, (id) => d.push(id)).join('') + d.flush()).toBe(tok.decode(ids));
        for (let k = 0; k <= ids.length; k++)
          expect(tok.decode(ids).startsWith(tok.decode(ids.slice(0, k)))).toBe(true);
      }
    }
    // Across a token boundary that transformers' clean-up pass would rewrite (` ' ` → `'`).
    const ids = wordpiece.encode("it ' s");
    expect(wordpiece.decode(ids.slice(0, 2))).toBe("it '");
    expect(wordpiece.decode(ids)).toBe("it ' s");
  });

  test('an id outside the vocabulary is a one-line TokenizerError', () => {
    const e = errorOf(() => unigram.decode([3, unigram.vocabSize]));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toBe(
      `id ${unigram.vocabSize} at position 1 is outside the vocabulary (ids 0..${unigram.vocabSize - 1})`,
    );
    expect(unigram.decode([])).toBe('');
  });
});

describe('hf: other models', () => {
  const wordLevel = {
    version: '1.0',
    added_tokens: [{ id: 10, content: '<|endoftext|>', special: true, normalized: false }],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0, hello: 1, world: 2, '!': 3 }, unk_token: '[UNK]' },
  };

  test('a WordLevel file: vocabulary lookups, an added token past the model vocabulary', () => {
    const tok = hfTokenizer.fromJSON(wordLevel)!;
    const v: Record<string, number> = wordLevel.model.vocab;
    const expected = ['hello', 'there', 'world', '!', '<|endoftext|>'].map(
      (w) => v[w] ?? (w === '<|endoftext|>' ? 10 : 0),
    );
    expect(Array.from(tok.encode('Hello there WORLD!<|endoftext|>'))).toEqual(expected);
    expect(tok.vocabSize).toBe(11);
    expect(tok.specialId('<|endoftext|>')).toBe(10);
    expect(tok.specialId('<unk>')).toBe(0);
    expect(() => tok.decode([5])).toThrow(
      /id 5 at position 0 is outside the vocabulary \(ids 0\.\.10, and it has no token\)/,
    );
  });

  test('no unknown token: unknown() reports what is dropped or cannot be split; encode refuses the latter', () => {
    const bpe = hfTokenizer.fromJSON({
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, c: 3 }, merges: ['a b'] },
      pre_tokenizer: { type: 'WhitespaceSplit' },
    })!;
    // The library drops characters outside a BPE vocabulary without an unknown token.
    expect(Array.from(bpe.encode('ab cab'))).toEqual([2, 3, 2]);
    expect(bpe.unknown('ab cab xy x')).toEqual(['x', 'y']);
    const wp = hfTokenizer.fromJSON({
      model: { type: 'WordPiece', vocab: { a: 0, '##b': 1 }, continuing_subword_prefix: '##' },
      pre_tokenizer: { type: 'WhitespaceSplit' },
    })!;
    expect(Array.from(wp.encode('ab a'))).toEqual([0, 1, 0]);
    expect(wp.unknown('ab ba')).toEqual(['b']);
    const e = errorOf(() => wp.encode('ab ba'));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toBe("characters not in the vocabulary: 'b' (U+0062)");
  });
});

describe('hf: files and errors', () => {
  const memory = (files: Record<string, string>): TextFiles => ({
    readText: async (path) => {
      if (!(path in files)) throw new Error('gone');
      return files[path];
    },
  });

  test('a missing file: one line naming the path', async () => {
    const missing = fixture('missing.tokenizer.json');
    const e = await rejectionOf(hfTokenizer.open!(missing, nodeTextFiles));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toBe(`tokenizer hf:${missing}: cannot read "${missing}": no such file`);
    const other = await rejectionOf(hfTokenizer.open!('models/tok.json', memory({})));
    expect(other.message).toBe('tokenizer hf:models/tok.json: cannot read models/tok.json: gone');
  });

  test.each([
    ['not JSON', '{"model": ', /^tokenizer hf:t\.json: not JSON \(/],
    [
      'an array',
      '[1, 2]',
      /^tokenizer hf:t\.json: expected a Hugging Face tokenizer\.json \(a JSON object with a "model"\)$/,
    ],
    ['no model', '{"version": "1.0"}', /^tokenizer hf:t\.json: "model" must be an object, got nothing$/],
    [
      'an unsupported model',
      '{"model": {"type": "CharLevel", "vocab": {}}}',
      /^tokenizer hf:t\.json: model type "CharLevel" is not one the Hugging Face tokenizers library reads \(BPE, WordPiece, Unigram, WordLevel\)$/,
    ],
    [
      'a part the library lacks',
      '{"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "a"}, "decoder": {"type": "Bogus"}}',
      /^tokenizer hf:t\.json: the Hugging Face tokenizers library cannot read it: Unknown Decoder type: Bogus$/,
    ],
  ])('%s: a one-line TokenizerError', async (_name, text, pattern) => {
    const e = await rejectionOf(hfTokenizer.open!('t.json', memory({ 't.json': text })));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toMatch(pattern);
    expect(e.message).not.toContain('\n');
  });

  test('fromJSON: undefined without a model object; an unsupported model type is an error', () => {
    expect(hfTokenizer.fromJSON({ kind: 'char', vocab: ['a'] })).toBeUndefined();
    expect(hfTokenizer.fromJSON(null)).toBeUndefined();
    expect(hfTokenizer.fromJSON({ model: 'BPE' })).toBeUndefined();
    expect(() => hfTokenizer.fromJSON({ model: { type: 'Foo' } })).toThrow(
      /^Hugging Face tokenizer\.json: model type "Foo" is not one/,
    );
    expect(HfTokenizer.load(structuredClone(wordpieceJSON), 'x').vocabSize).toBe(wordpiece.vocabSize);
  });

  test('a registry of char, word and hf gives each file to its plugin and names them all otherwise', () => {
    const registry = new TokenizerRegistry([charTokenizer, wordTokenizer, hfTokenizer]);
    const trainer = wordTokenizer.trainer!('50');
    trainer.add('the cat sat on the mat.');
    const word = trainer.finish();
    const saved = (t: Tokenizer) => JSON.parse(JSON.stringify(t.toJSON()));
    const char = charTokenizer.trainer!(undefined);
    char.add('abc');
    expect(registry.fromJSON(saved(char.finish())).kind).toBe('char');
    expect(registry.fromJSON(saved(word)).kind).toBe('word');
    expect(registry.fromJSON(wordpieceJSON).kind).toBe('hf');
    expect(registry.fromJSON(unigramJSON).kind).toBe('hf');
    const e = errorOf(() => registry.fromJSON({ kind: 'sentencepiece' }, 'run/meta.json'));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toMatch(/^run\/meta\.json: not a tokenizer any plugin reads \(char, word, hf\)/);
  });
});
