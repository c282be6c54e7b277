// Prompt checks shared by `generate` and `run`: say which characters are outside the vocabulary,
// and that nothing was generated.
import { type Tokenizer, TokenizerError } from '@ganglion/core';
import { UsageError } from './args.js';

export function checkPrompt(tokenizer: Tokenizer, prompt: string): void {
  if (prompt.length === 0) throw new UsageError('--prompt: the prompt must have at least one character');
  const unknown = tokenizer.unknown(prompt);
  if (unknown.length > 0) {
    const list = unknown
      .map((c) => `${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`)
      .join(', ');
    throw new TokenizerError(
      `the prompt has characters that are not in the model's vocabulary: ${list}. Nothing was generated; remove them or rephrase the prompt (the vocabulary is the ${tokenizer.vocabSize} tokens of the training corpus)`,
      unknown,
    );
  }
}
