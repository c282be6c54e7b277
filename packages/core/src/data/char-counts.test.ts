// Character counts: counting pieces equals counting the whole, characters are code points as
// `for...of` walks a string, and the coverage of a vocabulary matches a brute-force count.
import { describe, expect, test } from 'vitest';
import { CharCounts, vocabularyCoverage } from './char-counts.js';

/** Brute force: a Map over `for...of`. */
function bruteCounts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of text) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
}

describe('CharCounts', () => {
  const text = 'héllo 😀 wörld 𝄞\uE000 \uD800x 😀';

  test('counts per code point agree with a Map over for...of, in one piece or several', () => {
    const whole = CharCounts.of(text);
    const pieces = new CharCounts();
    // Cut only between characters (not inside a surrogate pair).
    const chars = [...text];
    for (let i = 0; i < chars.length; i += 3) pieces.add(chars.slice(i, i + 3).join(''));
    const brute = bruteCounts(text);
    for (const counts of [whole, pieces]) {
      expect(counts.characters).toBe(chars.length);
      expect(counts.utf16Length).toBe(text.length);
      expect(counts.codePoints()).toEqual([...brute.keys()].map((c) => c.codePointAt(0)!).sort((a, b) => a - b));
      for (const [c, n] of brute) expect(counts.count(c.codePointAt(0)!)).toBe(n);
    }
    expect(whole.count('z'.codePointAt(0)!)).toBe(0);
  });

  test('coverage: the characters a vocabulary lacks and how often they occur', () => {
    const cov = vocabularyCoverage(CharCounts.of('aaab😀😀c'), ['a', 'c']);
    expect(cov).toEqual({ distinct: 4, outside: ['b', '😀'], outsideCount: 3, total: 7 });
  });
});
