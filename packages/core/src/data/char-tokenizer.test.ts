// The character tokenizer: a deterministic vocabulary, exact round trips (astral characters are
// one token each), and errors that list the characters a vocabulary lacks.
import { describe, expect, test } from 'vitest';
import { GanglionError } from '../errors.js';
import { CharTokenizer, TokenizerError } from './char-tokenizer.js';

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
    expect((error as Error).message).toBe("characters not in the vocabulary: 'Ω' (U+03A9), '😀' (U+1F600), '\\n' (U+000A)");
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
    expect(() => tok.decode([0, 2])).toThrow(new TokenizerError('id 2 at position 1 is outside the vocabulary (ids 0..1)'));
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

    expect(() => CharTokenizer.fromJSON({ kind: 'bpe', vocab: ['a'] })).toThrow(/not a character tokenizer: expected \{ kind: "char", vocab: \[\.\.\.\] \}, got kind "bpe"/);
    expect(() => CharTokenizer.fromJSON(null)).toThrow(TokenizerError);
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: [] })).toThrow(/"vocab" must be a non-empty array/);
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'bc'] })).toThrow(/vocab\[1\] is "bc", expected a single character/);
    expect(() => CharTokenizer.fromJSON({ kind: 'char', vocab: ['a', 'b', 'a'] })).toThrow(/'a' \(U\+0061\) appears twice in the vocabulary \(ids 0 and 2\)/);
  });
});
