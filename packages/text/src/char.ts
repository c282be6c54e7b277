// The character tokenizer as a plugin: one token per code point (core's CharTokenizer), its
// vocabulary the corpus's characters, capped at N (`char:N`, default 1024) with the rarer ones
// sharing one unknown token.
import { CharCounts, CharTokenizer, type TokenizerPlugin, TokenizerError } from '@ganglion/core';

/** The vocabulary cap when `char` has no argument. */
export const DEFAULT_CHAR_VOCAB = 1024;

export const charTokenizer: TokenizerPlugin = {
  kind: 'char',
  description: `char[:N]   one token per character, the N most frequent (default ${DEFAULT_CHAR_VOCAB}) plus an unknown token`,
  trainer(arg) {
    const cap = arg === undefined ? DEFAULT_CHAR_VOCAB : Number(arg);
    if (!(Number.isInteger(cap) && cap >= 2))
      throw new TokenizerError(`tokenizer char:${arg}: the vocabulary size must be a whole number >= 2`);
    const counts = new CharCounts();
    return {
      add: (text) => counts.add(text),
      finish: () => CharTokenizer.fromCounts(counts, cap),
    };
  },
  fromJSON(json) {
    if (json === null || typeof json !== 'object' || (json as { kind?: unknown }).kind !== 'char') return undefined;
    return CharTokenizer.fromJSON(json);
  },
};
