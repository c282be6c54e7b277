// Train/validation split: the last fraction is held out, for tokens and for text alike.
import { describe, expect, test } from 'vitest';
import { CharTokenizer } from './char-tokenizer.js';
import { DataError } from './dataset.js';
import { trainValidationSplit, trainValidationSplitText } from './split.js';

describe('trainValidationSplit', () => {
  test('the last fraction of the tokens is held out', () => {
    const tokens = Int32Array.from({ length: 10 }, (_, i) => i);
    const { train, validation } = trainValidationSplit(tokens, 0.3);
    expect(Array.from(train)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(validation)).toEqual([7, 8, 9]);
    train[0] = 99;
    expect(tokens[0]).toBe(0);
    expect(trainValidationSplit(tokens, 0).validation.length).toBe(0);
  });

  test('the text version cuts between characters, where the token version cuts', () => {
    const text = 'ab😀cd😀ef😀g';
    const { train, validation } = trainValidationSplitText(text, 0.4);
    expect(train + validation).toBe(text);
    expect(Array.from(validation)).toHaveLength(4);
    const tok = CharTokenizer.fromText(text);
    const split = trainValidationSplit(tok.encode(text), 0.4);
    expect(tok.decode(split.train)).toBe(train);
    expect(tok.decode(split.validation)).toBe(validation);
  });

  test('a fraction outside [0, 1) is a DataError', () => {
    for (const f of [1, -0.1, Number.NaN]) expect(() => trainValidationSplit(new Int32Array(4), f)).toThrow(DataError);
    expect(() => trainValidationSplitText('abc', 1.5)).toThrow(/validation fraction must be in \[0, 1\), got 1.5/);
  });
});
