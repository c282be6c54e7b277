// The tokenizer contract's own code: parseTokenizerSpec, TokenizerRegistry (which plugin reads a
// saved tokenizer, errors that name the known kinds) and StreamDecoder, checked against the
// platform's streaming TextDecoder with a byte-per-token tokenizer and against whole decodes with
// CharTokenizer.
import { describe, expect, test } from 'vitest';
import { CharCounts } from './char-counts.js';
import { CharTokenizer, TokenizerError } from './char-tokenizer.js';
import {
  StreamDecoder,
  type Tokenizer,
  type TokenizerPlugin,
  TokenizerRegistry,
  parseTokenizerSpec,
} from './tokenizer.js';

/** One token per UTF-8 byte: what a byte-level BPE looks like to StreamDecoder at its worst. */
const byteTokenizer: Tokenizer = {
  kind: 'byte',
  vocabSize: 256,
  encode: (text) => Int32Array.from(new TextEncoder().encode(text)),
  decode: (ids) => new TextDecoder().decode(Uint8Array.from(Array.from(ids))),
  unknown: () => [],
  specialId: () => undefined,
  toJSON: () => ({ kind: 'byte' }),
};

const TEXTS: Record<string, string> = {
  ascii: 'Hello, world!',
  latin: 'naïve café, Straße',
  cjk: '日本語のテキスト、中文文本。',
  emoji: 'ok 😀 👍🏽 🇫🇷 🏳️‍🌈',
  zwj: '👩‍💻👨‍👩‍👧‍👦',
  combining: 'e\u0301 q\u0307\u0323 Z\u0335\u0321',
  astral: '𝄞 𝐀𝐁 𠀀',
  mixed: 'a😀b\u00e9\u4e2d\n\t𝄞',
};

/** Pushes `ids` one at a time and returns what each push gave, then what flush gave. */
function stream(tok: Tokenizer, ids: ArrayLike<number>): { pushes: string[]; flushed: string } {
  const d = new StreamDecoder(tok);
  const pushes = Array.from(ids, (id) => d.push(id));
  return { pushes, flushed: d.flush() };
}

describe('parseTokenizerSpec', () => {
  test('splits at the first colon only', () => {
    expect(parseTokenizerSpec('bpe:8192')).toEqual({ kind: 'bpe', arg: '8192' });
    expect(parseTokenizerSpec('char')).toEqual({ kind: 'char' });
    expect(parseTokenizerSpec('hf:C:/models/tokenizer.json')).toEqual({ kind: 'hf', arg: 'C:/models/tokenizer.json' });
    expect(parseTokenizerSpec('word:')).toEqual({ kind: 'word', arg: '' });
  });
});

describe('TokenizerRegistry', () => {
  const charPlugin: TokenizerPlugin = {
    kind: 'char',
    description: 'char  characters',
    fromJSON: (json) => ((json as { kind?: unknown })?.kind === 'char' ? CharTokenizer.fromJSON(json) : undefined),
  };
  const bytePlugin: TokenizerPlugin = {
    kind: 'byte',
    description: 'byte  bytes',
    fromJSON: (json) => ((json as { kind?: unknown })?.kind === 'byte' ? byteTokenizer : undefined),
  };
  const registry = new TokenizerRegistry([charPlugin, bytePlugin]);

  test('kinds and plugins in the order given; plugin(kind) finds one', () => {
    expect(registry.kinds).toEqual(['char', 'byte']);
    expect(registry.plugins).toEqual([charPlugin, bytePlugin]);
    expect(registry.plugin('byte')).toBe(bytePlugin);
  });

  test('fromJSON asks each plugin and returns what the one that recognises the JSON reads', () => {
    const saved = CharTokenizer.fromText('hello').toJSON();
    const t = registry.fromJSON(JSON.parse(JSON.stringify(saved)));
    expect(t.kind).toBe('char');
    expect(Array.from(t.encode('hole'))).toEqual(Array.from(CharTokenizer.fromText('hello').encode('hole')));
    expect(registry.fromJSON({ kind: 'byte' })).toBe(byteTokenizer);
  });

  test('an unknown kind or JSON no plugin reads: one line naming the known kinds', () => {
    expect(() => registry.plugin('bpe')).toThrow(TokenizerError);
    expect(() => registry.plugin('bpe')).toThrow(/^unknown tokenizer "bpe"; expected one of char, byte$/);
    let error: unknown;
    try {
      registry.fromJSON({ kind: 'sentencepiece' }, 'run/meta.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toMatch(/^run\/meta\.json: .*\(char, byte\)/);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('StreamDecoder', () => {
  test('after a context (a prompt), only the new text is emitted; an unknown token in the prompt is not repeated', () => {
    const text = 'Prompt 🐋 and 日本';
    const ids = byteTokenizer.encode(text);
    const split = new TextEncoder().encode('Prompt ').length;
    const d = new StreamDecoder(byteTokenizer, ids.subarray(0, split));
    let out = '';
    for (const id of ids.subarray(split)) out += d.push(id);
    expect('Prompt ' + out + d.flush()).toBe(text);
    // A character tokenizer's unknown token decodes to U+FFFD: in the prompt it is shown already.
    const tok = CharTokenizer.fromCounts(CharCounts.of('aab'), 2);
    const c = new StreamDecoder(tok, tok.encode('ab'));
    expect(c.push(tok.encode('a')[0])).toBe('a');
  });

  test.each(Object.entries(TEXTS))(
    'byte per token, %s: emits each character as soon as its last byte arrives, never U+FFFD',
    (_name, text) => {
      const ids = byteTokenizer.encode(text);
      const { pushes, flushed } = stream(byteTokenizer, ids);
      // The reference: the platform's streaming UTF-8 decoder, fed the same bytes one at a time.
      const reference = new TextDecoder();
      const expected = Array.from(ids, (b) => reference.decode(Uint8Array.of(b), { stream: true }));
      expect(pushes).toEqual(expected);
      expect(pushes.join('')).not.toContain('\uFFFD');
      expect(pushes.join('') + flushed).toBe(text);
      expect(flushed).toBe('');
    },
  );

  test('flush emits a trailing incomplete UTF-8 sequence as U+FFFD', () => {
    const bytes = [...new TextEncoder().encode('a中')].slice(0, 3); // 'a' and 2 of the 3 bytes of 中
    const { pushes, flushed } = stream(byteTokenizer, bytes);
    expect(pushes).toEqual(['a', '', '']);
    expect(flushed).toBe(new TextDecoder().decode(Uint8Array.of(0xe4, 0xb8)));
    expect(flushed).toBe('\uFFFD');
  });

  test('an invalid byte is emitted as U+FFFD once the text after it is known; the whole equals one decode', () => {
    const bytes = [0x61, 0xff, 0x62, 0xe4, 0xb8, 0xad, 0xc3];
    const { pushes, flushed } = stream(byteTokenizer, bytes);
    expect(pushes.join('') + flushed).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
    expect(pushes[1]).toBe(''); // held: it could have been the start of a longer sequence
    expect(pushes[2]).toBe('\uFFFDb');
  });

  test.each(Object.entries(TEXTS))('CharTokenizer, %s: the stream equals the decode of all ids', (_name, text) => {
    const tok = CharTokenizer.fromText(text);
    const ids = tok.encode(text);
    const { pushes, flushed } = stream(tok, ids);
    expect(pushes.join('') + flushed).toBe(tok.decode(ids));
    expect(pushes.join('') + flushed).toBe(text);
    // One code point per token: each push gives its character at once.
    expect(pushes).toEqual([...text]);
  });

  test('CharTokenizer with an unknown token (U+FFFD): held until the next character, the whole is kept', () => {
    const tok = CharTokenizer.fromCounts(CharCounts.of('aaabbcd'), 3);
    const ids = tok.encode('abcz');
    expect(tok.decode(ids)).toBe('ab\uFFFD\uFFFD');
    const { pushes, flushed } = stream(tok, ids);
    expect(pushes).toEqual(['a', 'b', '', '']);
    expect(flushed).toBe('\uFFFD\uFFFD');
    expect(pushes.join('') + flushed).toBe(tok.decode(ids));
    const mid = stream(tok, tok.encode('acab'));
    expect(mid.pushes.join('') + mid.flushed).toBe('a\uFFFDab');
  });
});
