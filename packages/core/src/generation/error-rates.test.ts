// Edit distance and the word/phoneme error rates on hand-made cases, and the edit distance against
// its recursive definition (memoized) on random short sequences.
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../errors.js';
import { uniformAt } from '../random/prng.js';
import { editDistance, phonemeErrorRate, wordErrorRate } from './error-rates.js';

/** Levenshtein's recursion: d(i, j) over the prefixes a[0..i), b[0..j). */
function recursive(a: readonly number[], b: readonly number[]): number {
  const memo = new Map<string, number>();
  const d = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const k = `${i},${j}`;
    if (!memo.has(k))
      memo.set(k, Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    return memo.get(k)!;
  };
  return d(a.length, b.length);
}

describe('editDistance', () => {
  test('hand-made cases', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3); // k→s, e→i, +g
    expect(editDistance('flaw', 'lawn')).toBe(2); // -f, +n
    expect(editDistance([], [1, 2, 3])).toBe(3);
    expect(editDistance([1, 2, 3], [])).toBe(3);
    expect(editDistance([], [])).toBe(0);
    expect(editDistance(Int32Array.of(4, 5, 6), [4, 5, 6])).toBe(0);
    // CAT vs CATS with a vowel substituted: K AE1 T -> K AH0 T S.
    expect(editDistance(['K', 'AE1', 'T'], ['K', 'AH0', 'T', 'S'])).toBe(2);
    expect(editDistance([1, 2, 3, 4], [4, 3, 2, 1])).toBe(4);
  });

  test('equals the recursive definition on random sequences, and is symmetric', () => {
    for (let n = 0; n < 300; n++) {
      const seq = (salt: number) =>
        Array.from({ length: Math.floor(7 * uniformAt(n, salt)) }, (_, i) =>
          Math.floor(3 * uniformAt(n, salt + 10 + i)),
        );
      const a = seq(1);
      const b = seq(2);
      expect(editDistance(a, b)).toBe(recursive(a, b));
      expect(editDistance(b, a)).toBe(editDistance(a, b));
    }
  });
});

describe('wordErrorRate and phonemeErrorRate', () => {
  const refs = [['G', 'AE1', 'NG', 'G', 'L', 'IY0', 'AH0', 'N'], ['K', 'AE1', 'T'], ['D', 'AO1', 'G'], ['AH0']];
  const hyps = [
    ['G', 'AE1', 'NG', 'G', 'L', 'IY0', 'AH0', 'N'], // right
    ['K', 'AH0', 'T'], // one substitution
    ['D', 'AO1', 'G', 'Z'], // one insertion
    [], // one deletion
  ];

  test('hand-made cases', () => {
    expect(wordErrorRate(hyps, refs)).toBe(3 / 4);
    expect(phonemeErrorRate(hyps, refs)).toBe(3 / (8 + 3 + 3 + 1));
    expect(wordErrorRate(refs, refs)).toBe(0);
    expect(phonemeErrorRate(refs, refs)).toBe(0);
    expect(phonemeErrorRate([[1, 2], [3]], [[1, 2, 5], [4]])).toBe(0.5);
  });

  test('a word with several references is right when it equals one; errors count against the closest', () => {
    // EITHER: IY1 DH ER0 or AY1 DH ER0.
    const either = [
      ['IY1', 'DH', 'ER0'],
      ['AY1', 'DH', 'ER0'],
    ];
    expect(wordErrorRate([['AY1', 'DH', 'ER0']], [either])).toBe(0);
    // Two edits from the first, one from the second (4 phonemes long): 1 / 4.
    const alt = [
      ['IY1', 'DH', 'ER0'],
      ['AY1', 'DH', 'AH0', 'R'],
    ];
    expect(phonemeErrorRate([['AY1', 'DH', 'AH0', 'Z']], [alt])).toBe(1 / 4);
    expect(wordErrorRate([['AY1', 'DH', 'AH0', 'Z']], [alt])).toBe(1);
    // Token arrays as references: Int32Arrays are sequences too.
    expect(phonemeErrorRate([Int32Array.of(1, 2)], [[Int32Array.of(1), Int32Array.of(1, 2, 3)]])).toBe(1);
  });

  test('mismatched or empty inputs are one ConfigError', () => {
    expect(() => wordErrorRate([[1]], [])).toThrow(
      new ConfigError('wordErrorRate: 1 hypotheses but 0 references, expected one per word'),
    );
    expect(() => phonemeErrorRate([], [])).toThrow('phonemeErrorRate: no words given');
    expect(() => phonemeErrorRate([[1]], [[]])).toThrow(
      'phonemeErrorRate: the references are all empty, so there is no rate',
    );
  });
});
