// How the CLI names tokenizers to people: the kind and the vocabulary, in one phrase.
import { type Tokenizer, type TokenizerRegistry, parseTokenizerSpec } from '@ganglion/core';
import { UsageError } from './args.js';

const KIND_WORDS: Readonly<Record<string, string>> = {
  char: 'characters',
  word: 'words',
  bpe: 'byte-level BPE tokens',
  hf: 'tokens (Hugging Face tokenizer.json)',
};

/** `bpe, 8,192 byte-level BPE tokens`; `char, 89 characters`. */
export function describeTokenizer(t: Tokenizer): string {
  return `${t.kind}, ${t.vocabSize.toLocaleString('en-US')} ${KIND_WORDS[t.kind] ?? 'tokens'}`;
}

/** The tokenizer specs for help text, one per line, from the plugins' own descriptions. */
export function tokenizerSpecsHelp(registry: TokenizerRegistry): string {
  return registry.plugins.map((p) => `  ${p.description}`).join('\n');
}

/**
 * Checks a --tokenizer spec before any work: a known kind (else the kinds are listed), and an
 * argument its plugin takes (`char:0`, `bpe:abc` fail here, each in one line).
 */
export function checkTokenizerSpec(spec: string, registry: TokenizerRegistry): void {
  const { kind, arg } = parseTokenizerSpec(spec);
  let plugin;
  try {
    plugin = registry.plugin(kind);
    if (plugin.trainer) plugin.trainer(arg);
  } catch (e) {
    throw new UsageError(
      `--tokenizer ${spec}: ${(e as Error).message.replace(`tokenizer ${spec}: `, '').replace(/^unknown tokenizer/, 'unknown kind')}`,
    );
  }
  if (!plugin.trainer && !arg)
    throw new UsageError(`--tokenizer ${spec}: ${kind} needs an argument (${plugin.description.trim()})`);
}
