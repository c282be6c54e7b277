// Special tokens added after training: the next ids, one id each wherever they are written, the
// other tokens' ids unchanged, never produced by ordinary text, saved and loaded as the same kind,
// idempotent; a char tokenizer refuses them in one line.
import { describe, expect, test } from 'vitest';
import { CharTokenizer, type Tokenizer } from '@ganglion/core';
import { Tokenizer as HfLibrary } from '@huggingface/tokenizers';
import { BERT_SPECIAL_TOKENS, builtinTokenizers, trainBpe, withSpecialTokens, wordTokenizer } from './index.js';

const text =
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, ' +
  'and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world. ' +
  'The white whale swam; the whale! [brackets] MASK mask CLS sep.';

function trainedWord(): Tokenizer {
  const t = wordTokenizer.trainer!('40');
  t.add(text);
  return t.finish();
}

const kinds: [string, () => Tokenizer][] = [
  ['word', trainedWord],
  ['bpe', () => trainBpe([text], { vocabSize: 300 })],
];

describe.each(kinds)('withSpecialTokens on a %s tokenizer', (kind, make) => {
  test('the specials take the next ids and encode as one id each, wherever they are written', () => {
    const base = make();
    const tok = withSpecialTokens(base, BERT_SPECIAL_TOKENS);
    expect(tok.kind).toBe(kind);
    expect(tok.vocabSize).toBe(base.vocabSize + 4);
    const ids = BERT_SPECIAL_TOKENS.map((t) => tok.specialId(t));
    expect(ids).toEqual([0, 1, 2, 3].map((i) => base.vocabSize + i));
    const [pad, cls, sep, mask] = ids as number[];
    // Text around a special encodes as it does on its own (the word rule drops the spaces; BPE keeps them).
    for (const [before, after] of [
      ['The ', ' whale'],
      ['the', 'whale'],
      ['', ''],
    ]) {
      const got = Array.from(tok.encode(`${before}[MASK]${after}`));
      expect(got).toEqual([...base.encode(before), mask, ...base.encode(after)]);
    }
    expect(Array.from(tok.encode('[CLS][SEP][PAD]'))).toEqual([cls, sep, pad]);
    expect(tok.decode([mask])).toBe('[MASK]');
  });

  test('ordinary text gives the same ids as before and never a special id', () => {
    const base = make();
    const tok = withSpecialTokens(base, BERT_SPECIAL_TOKENS);
    const ordinary = text + ' MASK] [MAS K] [mask] [ CLS ]';
    const ids = tok.encode(ordinary);
    expect(Array.from(ids)).toEqual(Array.from(base.encode(ordinary)));
    expect(Math.max(...ids)).toBeLessThan(base.vocabSize);
  });

  test('saved and loaded by the registry as the same kind, with the same ids; adding again changes nothing', () => {
    const tok = withSpecialTokens(make(), BERT_SPECIAL_TOKENS);
    const back = builtinTokenizers.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.kind).toBe(kind);
    expect(back.vocabSize).toBe(tok.vocabSize);
    const probe = 'the [MASK] whale [SEP] sail';
    expect(Array.from(back.encode(probe))).toEqual(Array.from(tok.encode(probe)));
    expect(withSpecialTokens(tok, BERT_SPECIAL_TOKENS)).toBe(tok);
    expect(withSpecialTokens(back, ['[MASK]'])).toBe(back);
  });

  test('Hugging Face tokenizers reads the saved file to the same ids', () => {
    const tok = withSpecialTokens(make(), BERT_SPECIAL_TOKENS);
    const json = tok.toJSON() as { model: { type: string; unk_token?: string } };
    // The library reads a WordLevel model as its legacy one, told the unknown token (as hf.ts does).
    const hf = new HfLibrary(json, json.model.type === 'WordLevel' ? { unk_token: json.model.unk_token } : {});
    const probe = 'The white [MASK] swam [CLS] x';
    expect(hf.encode(probe, { add_special_tokens: false }).ids).toEqual(Array.from(tok.encode(probe)));
  });
});

test('a char tokenizer cannot take special tokens: one line that says which can', () => {
  expect(() => withSpecialTokens(CharTokenizer.fromText('abc'), BERT_SPECIAL_TOKENS)).toThrow(
    /^a char tokenizer cannot take the special tokens \[PAD\] \[CLS\] \[SEP\] \[MASK\]: .*use a word, bpe or hf tokenizer/,
  );
});
