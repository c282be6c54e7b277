// @ganglion/text: tokenizer plugins, one file each, bound to TOKENS.Tokenizer by `tokenizersModule`.
import { ContainerModule } from 'inversify';
import { TOKENS, type TokenizerPlugin, TokenizerRegistry } from '@ganglion/core';
import { bpeTokenizer } from './bpe.js';
import { charTokenizer } from './char.js';
import { hfTokenizer } from './hf.js';
import { wordTokenizer } from './word.js';

/**
 * Every built-in tokenizer plugin, in the order help text lists them and saved files are offered to
 * them: `hf` reads any Hugging Face tokenizer.json, so it comes after the kinds that claim their own.
 */
export const BUILTIN_TOKENIZERS: readonly TokenizerPlugin[] = [charTokenizer, wordTokenizer, bpeTokenizer, hfTokenizer];

/** The built-in tokenizers as a registry (what the CLI uses without a container). */
export const builtinTokenizers = new TokenizerRegistry(BUILTIN_TOKENIZERS);

export const tokenizersModule = new ContainerModule(({ bind }) => {
  for (const p of BUILTIN_TOKENIZERS) bind(TOKENS.Tokenizer).toConstantValue(p);
});

export { charTokenizer, DEFAULT_CHAR_VOCAB } from './char.js';
export { DEFAULT_WORD_VOCAB, WordTokenizer, wordTokenizer } from './word.js';
export { HfTokenizer, hfTokenizer } from './hf.js';
export { BpeTokenizer, BpeTrainer, DEFAULT_BPE_VOCAB, bpeTokenizer, trainBpe } from './bpe.js';
export type { AddedToken, BpeTrainerOptions, BpeVocabulary } from './bpe.js';
export { BERT_SPECIAL_TOKENS, withSpecialTokens } from './special-tokens.js';
