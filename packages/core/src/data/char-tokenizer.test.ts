// The character tokenizer: a deterministic vocabulary, exact round trips (astral characters are
// one token each), errors that list the characters a vocabulary lacks, and a capped vocabulary
// whose rarer characters encode to the unknown token.
import { describe, expect, test } from 'vitest';
import { GanglionError } from '../errors.js';
import { CharCounts } from './char-counts.js';
import { CharTokenizer, TokenizerError, UNKNOWN_CHAR } from './char-tokenizer.js';

describe('CharTokenizer', () => {
  test('the vocabulary is the sorted set of characters; encode/decode round trip', () => {
    const tok = CharTokenizer.fromText('hello world');
    expect(tok.vocab).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(tok.vocabSize).toBe(8);
    const ids = tok.encode('hello world');
    expect(ids).toBeInstanceOf(Int32Array);
    expect(Array.from(ids)).toEqual([3, 2, 4, 4, 5, 0, 7, 5, 6, 4, 1]);
    expect(tok.decode(ids)).toBe('hello world');
    expect(CharTokenizer.fromText('dlrow olleh').vocab).toEqual(tok.vocab);
  });

  test('astral characters are one token each, sorted by code point', () => {
    // By UTF-16 units '😀' (D83D DE00) would sort before U+E000; by code point it comes after.
    const text = 'a😀\uE000b😀𝄞';
    const tok = CharTokenizer.fromText(text);
    expect(tok.vocab).toEqual(['a', 'b', '\uE000', '𝄞', '😀']);
    const ids = tok.encode(text);
    expect(Array.from(ids)).toEqual([0, 4, 2, 1, 4, 3]);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.unknown('a🙂b')).toEqual(['🙂']);
  });

  test('unknown characters: a TokenizerError listing each once, with its code point', () => {
    const tok = CharTokenizer.fromText('abc');
    expect(tok.unknown('aΩbΩ😀\n')).toEqual(['Ω', '😀', '\n']);
    let error: unknown;
    try {
      tok.encode('aΩbΩ😀\n');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect(error).toBeInstanceOf(GanglionError);
    expect((error as Error).message).toBe(
      "characters not in the vocabulary: 'Ω' (U+03A9), '😀' (U+1F600), '\\n' (U+000A)",
    );
    expect((error as TokenizerError).unknown).toEqual(['Ω', '😀', '\n']);
    expect(tok.unknown('cab')).toEqual([]);
  });

  test('a long list of unknown characters is cut short', () => {
    const tok = CharTokenizer.fromText('a');
    const text = Array.from({ length: 25 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    expect(() => tok.encode(text)).toThrow(/'专' \(U\+4E13\), and 5 more$/);
  });

  test('decoding an id outside the vocabulary', () => {
    const tok = CharTokenizer.fromText('ab');
    expect(() => tok.decode([0, 2])).toThrow(
      new TokenizerError('id 2 at position 1 is outside the vocabulary (ids 0..1)'),
    );
    expect(() => tok.decode([-1])).toThrow(/id -1 at position 0/);
    expect(() => CharTokenizer.fromText('')).toThrow(TokenizerError);
  });

  test('JSON round trip, validated', () => {
    const tok = CharTokenizer.fromText('xy😀');
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    expect(json).toEqual({ kind: 'char', vocab: ['x', 'y', '😀'] });
    const back = CharTokenizer.fromJSON(json);
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.decode(tok.encode('y😀x'))).toBe('y😀x');
    // The order of a stored vocabulary is kept: it defines the ids.
    expect(Array.from(CharTokenizer.fromJSON({ kind: 'char', vocab: ['b', 'a'] }).encode('ab'))).toEqual([1, 0]);

    expect(() => CharTokenizer.fromJSON({ kind: 'bpe', vocab: ['a'] })).toThrow(
      /not a character tokenizer: expected \{ kind: "char", vocab: \[\.\.\.\] \}, got kind "bpe"/,
    );
    expect(() => CharTokenizer.fromJSON(null)).toThrow(TokenizerError);
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: [] })).toThrow(/"vocab" must be a non-empty array/);
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'bc'] })).toThrow(
      /vocab\[1\] is "bc", expected a single character/,
    );
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'b', 'a'] })).toThrow(
      /'a' \(U\+0061\) appears twice in the vocabulary \(ids 0 and 2\)/,
    );
  });
});

describe('CharTokenizer with a capped vocabulary and an unknown token', () => {
  // Counts by hand: e×5, a×4, d×3, b×3, c×3, 😀×2, f×1, Ω×1 (8 distinct characters, 22 in all).
  const text = 'eeeee' + 'aaaa' + 'ddd' + 'bbb' + 'ccc' + '😀😀' + 'f' + 'Ω';

  test('fromCounts without a cap is fromText: every character, sorted by code point', () => {
    const counts = CharCounts.of(text);
    const all = [...new Set(text)].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
    expect(CharTokenizer.fromCounts(counts).vocab).toEqual(all);
    expect(CharTokenizer.fromCounts(counts, 8).vocab).toEqual(all);
    expect(CharTokenizer.fromCounts(counts, 8).unknownId).toBeUndefined();
    expect(CharTokenizer.fromCounts(counts).toJSON()).toEqual(CharTokenizer.fromText(text).toJSON());
  });

  test('the N-1 most frequent characters (ties to the lower code point) and the unknown token', () => {
    // Cap 5: four characters kept: e(5), a(4), then b, c, d tie at 3 -> b and c by code point.
    const tok = CharTokenizer.fromCounts(CharCounts.of(text), 5);
    expect(tok.vocab).toEqual(['a', 'b', 'c', 'e', UNKNOWN_CHAR]);
    expect(tok.vocabSize).toBe(5);
    expect(tok.unknownId).toBe(4);
    expect(Array.from(tok.encode('dab😀Ωe'))).toEqual([4, 0, 1, 4, 4, 3]);
    expect(tok.decode(tok.encode('dab😀Ωe'))).toBe('\uFFFDab\uFFFD\uFFFDe');
    // With an unknown token nothing is rejected.
    expect(tok.unknown('dΩ')).toEqual([]);
    // A replacement character in the text is the unknown token itself, never a kept character.
    const withFffd = CharTokenizer.fromCounts(CharCounts.of('\uFFFD\uFFFD\uFFFDxxy'), 2);
    expect(withFffd.vocab).toEqual(['x', UNKNOWN_CHAR]);
    expect(Array.from(withFffd.encode('\uFFFDxy'))).toEqual([1, 0, 1]);
  });

  test('encodeInto writes from an offset and returns the count', () => {
    const tok = CharTokenizer.fromText('ab😀');
    const out = new Int32Array(8).fill(-7);
    expect(tok.encodeInto('b😀a', out, 2)).toBe(3);
    expect(Array.from(out)).toEqual([-7, -7, 1, 2, 0, -7, -7, -7]);
    expect(() => tok.encodeInto('abz', out)).toThrow(/characters not in the vocabulary: 'z' \(U\+007A\)$/);
  });

  test('maxVocab below 2 is refused', () => {
    expect(() => CharTokenizer.fromCounts(CharCounts.of('ab'), 1)).toThrow(/maxVocab must be a whole number >= 2/);
    expect(() => CharTokenizer.fromCounts(CharCounts.of('ab'), 2.5)).toThrow(TokenizerError);
    expect(() => CharTokenizer.fromCounts(CharCounts.of(''), 4)).toThrow(/the text is empty/);
  });

  test('JSON round trip with the unknown token; JSON without one still loads', () => {
    const tok = CharTokenizer.fromCounts(CharCounts.of(text), 5);
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    expect(json).toEqual({ kind: 'char', vocab: ['a', 'b', 'c', 'e', '\uFFFD'], unknown: 4 });
    const back = CharTokenizer.fromJSON(json);
    expect(back.unknownId).toBe(4);
    expect(Array.from(back.encode('zeta'))).toEqual([4, 3, 4, 0]);
    const old = CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'b'] });
    expect(old.unknownId).toBeUndefined();
    expect(old.unknown('abz')).toEqual(['z']);
    expect(() => old.encode('abz')).toThrow(TokenizerError);
    for (const bad of [2, -1, 0.5, '0']) {
      expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'b'], unknown: bad })).toThrow(
        /"unknown" is .*, expected the id of a vocabulary entry \(0\.\.1\)/,
      );
    }
  });
});
