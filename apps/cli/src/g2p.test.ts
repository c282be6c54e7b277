// g2p.ts without a trained model: the checks on the words asked for (one line each), the model
// record's checks, and the translation loop over a hand-made engine that spells each letter as its
// upper-case phoneme, so what greedy and beam decoding must print, and the error rates, are known.
import { describe, expect, test } from 'vitest';
import { type DecoderStep, SymbolVocab } from '@ganglion/core';
import {
  type G2pModel,
  type Seq2SeqEngine,
  errorRates,
  g2pModelFrom,
  g2pModelJson,
  sourceWords,
  translateWords,
} from './g2p.js';
import { validationWords } from './g2p-train.js';

const graphemes = SymbolVocab.fromSequences([['a', 'b', 'c', "'"]]);
const phonemes = SymbolVocab.fromSequences([['A', 'B', 'C']]);
const model: G2pModel = {
  model: { arch: 'lstm', srcVocab: graphemes.size, tgtVocab: phonemes.size, embed: 4, units: 4 },
  graphemes,
  phonemes,
  maxSourceLength: 5,
  maxTargetLength: 8,
  stress: false,
};

/**
 * An engine whose decoder writes, for each row, its source's letters as phonemes (a -> A), then the
 * end token: logit 10 for that id, 0 for the others. It records the batches it was started on.
 */
function spellingEngine(batches: number[]): Seq2SeqEngine {
  return {
    start: async (src, mask, rows, time) => {
      batches.push(rows);
      const sources = Array.from({ length: rows }, (_, r) =>
        Array.from(src.subarray(r * time, (r + 1) * time)).filter((_, t) => mask[r * time + t] === 1),
      );
      let state = sources.map((_, r) => ({ row: r, t: 0 }));
      const decoder: DecoderStep & { dispose(): void } = {
        step: async (tokens) => {
          const logits = new Float32Array(tokens.length * phonemes.size);
          state.forEach((s, i) => {
            const letter = sources[s.row][s.t];
            const id = letter === undefined ? 2 : (phonemes.id(graphemes.symbols[letter].toUpperCase()) ?? 2);
            logits[i * phonemes.size + id] = 10;
          });
          state = state.map((s) => ({ ...s, t: s.t + 1 }));
          return logits;
        },
        reorder: (rows) => {
          state = Array.from(rows, (r) => state[r]);
        },
        dispose: () => {},
      };
      return decoder;
    },
    close: async () => {},
  };
}

describe('sourceWords', () => {
  test('splits at whitespace and lower-cases', () => {
    expect(sourceWords('  Cab\tB\nA ', model)).toEqual(['cab', 'b', 'a']);
  });

  test.each([
    ['', /^--text is empty: give one or more words to pronounce/],
    ['  \n ', /^--text is empty/],
    ['cab déjà', /the word "déjà" has "d", "é", "j", "à", not among the 4 letters the model reads \(' a b c\)/],
    ['abcabc', /the word "abcabc" has 6 letters, but the model reads words of at most 5 .*refused, not truncated/],
  ])('%j is refused in one line', (text, message) => {
    expect(() => sourceWords(text, model)).toThrow(message);
  });
});

describe('g2pModelFrom', () => {
  test('reads back what g2pModelJson writes', () => {
    const back = g2pModelFrom(JSON.parse(JSON.stringify(g2pModelJson(model))), 'meta.json');
    expect(back.graphemes.symbols).toEqual(graphemes.symbols);
    expect(back.phonemes.symbols).toEqual(phonemes.symbols);
    expect([back.maxSourceLength, back.maxTargetLength, back.model]).toEqual([5, 8, model.model]);
  });

  test('a model that does not fit its vocabularies, or a bad length, names the file and the field', () => {
    const json = g2pModelJson(model);
    expect(() => g2pModelFrom({ ...json, model: { ...model.model, tgtVocab: 9 } }, 'ckpt/meta.json')).toThrow(
      /^ckpt\/meta.json: "g2p" .model reads 7 and writes 9 symbols, but the vocabularies have 7 letters and 6 phonemes$/,
    );
    expect(() => g2pModelFrom({ ...json, maxSourceLength: 0 }, 'm')).toThrow(
      'm: "g2p" .maxSourceLength must be a whole number >= 1, got 0',
    );
    expect(() => g2pModelFrom({ ...json, phonemes: ['A'] }, 'm')).toThrow(
      /m: "g2p.phonemes": expected the symbols to start with/,
    );
  });
});

describe('translateWords and errorRates', () => {
  const words = ['cab', 'b', "a'", 'bc', 'a'];
  const want = [['C', 'A', 'B'], ['B'], ['A'], ['B', 'C'], ['A']];

  test.each([1, 3])('beam %i spells every word, in batches, in order', async (beam) => {
    const batches: number[] = [];
    // "a'": the apostrophe upper-cases to itself, which is no phoneme: the engine writes the end there.
    const out = await translateWords(spellingEngine(batches), model, words, { beam, batch: 2 });
    expect(out).toEqual(want);
    expect(batches).toEqual([2, 2, 1]);
  });

  test('word and phoneme error rates against every pronunciation, the closest one for phonemes', async () => {
    const rates = await errorRates(
      spellingEngine([]),
      model,
      [
        { word: 'ab', pronunciations: [['A', 'B']] },
        // C A B is one edit from K A B and from C A B Z: the first of the two (3 phonemes) counts.
        {
          word: 'cab',
          pronunciations: [
            ['K', 'A', 'B'],
            ['C', 'A', 'B', 'Z'],
          ],
        },
      ],
      { beam: 1 },
    );
    expect(rates).toEqual({ wordErrorRate: 1 / 2, phonemeErrorRate: (0 + 1) / (2 + 3), words: 2 });
  });
});

test('validationWords: evenly spaced, or all', () => {
  const list = [...'abcdefghij'];
  expect(validationWords(list, 4)).toEqual(['a', 'c', 'f', 'h']);
  expect(validationWords(list, undefined)).toEqual(list);
  expect(validationWords(list, 50)).toEqual(list);
});
