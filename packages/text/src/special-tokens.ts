// Special tokens added to a trained tokenizer, as Hugging Face's `add_special_tokens` does: each
// new token gets the next id after the vocabulary (so the ids of every other token, and token
// files written with the tokenizer before, stay valid), and is matched in raw text as itself before
// anything else, so `[MASK]` written in a prompt is one id. Ordinary text never gives these ids:
// the model's own tokens cannot spell them. The result is the same kind of tokenizer (`word`,
// `bpe`, `hf`) read back from its own tokenizer.json with the tokens appended to `added_tokens`
// (and to `model.vocab`, where the format keeps added tokens there too), so it saves and loads
// like any other and @huggingface/tokenizers reads the file the same way. A `char` tokenizer's
// file has no place for a token longer than one character: it cannot take special tokens.
import { type Tokenizer, TokenizerError, TokenizerRegistry } from '@ganglion/core';
import { bpeTokenizer } from './bpe.js';
import { hfTokenizer } from './hf.js';
import { wordTokenizer } from './word.js';

/** BERT's special tokens, in the order they are appended. */
export const BERT_SPECIAL_TOKENS = ['[PAD]', '[CLS]', '[SEP]', '[MASK]'] as const;

type Json = Record<string, unknown>;

/**
 * `tokenizer` with `tokens` added as special tokens (those it already has keep their ids), or
 * `tokenizer` itself when it has them all.
 *
 *   const tok = withSpecialTokens(trained, BERT_SPECIAL_TOKENS);
 *   tok.encode('the [MASK] whale');   // [the, 4099, whale]; tok.specialId('[MASK]') === 4099
 */
export function withSpecialTokens(
  tokenizer: Tokenizer,
  tokens: readonly string[],
  registry: TokenizerRegistry = new TokenizerRegistry([wordTokenizer, bpeTokenizer, hfTokenizer]),
): Tokenizer {
  const missing = [...new Set(tokens)].filter((t) => tokenizer.specialId(t) === undefined);
  if (missing.length === 0) return tokenizer;
  const json = structuredClone(tokenizer.toJSON()) as Json;
  const model = json.model as Json | undefined;
  if (model === null || typeof model !== 'object' || !Array.isArray(json.added_tokens ?? []))
    throw new TokenizerError(
      `a ${tokenizer.kind} tokenizer cannot take the special tokens ${missing.join(' ')}: its file has no added tokens (use a word, bpe or hf tokenizer)`,
    );
  const added = (json.added_tokens ?? []) as Json[];
  const vocab =
    model.vocab !== null && typeof model.vocab === 'object' && !Array.isArray(model.vocab)
      ? (model.vocab as Record<string, number>)
      : undefined;
  missing.forEach((content, i) => {
    const id = tokenizer.vocabSize + i;
    if (vocab && Object.hasOwn(vocab, content))
      throw new TokenizerError(
        `${tokenizer.kind} tokenizer: ${content} is already an ordinary token (id ${vocab[content]}), so it cannot be added as a special one`,
      );
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    if (vocab) vocab[content] = id;
  });
  json.added_tokens = added;
  const extended = registry.fromJSON(json, `${tokenizer.kind} tokenizer with ${missing.join(' ')}`);
  for (const t of missing)
    if (extended.specialId(t) !== tokenizer.vocabSize + missing.indexOf(t))
      throw new TokenizerError(`${tokenizer.kind} tokenizer: the added special token ${t} did not get its own id`);
  return extended;
}
