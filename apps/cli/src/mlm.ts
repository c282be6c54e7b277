// What training and using a masked-language model (preset bert-mini, or a checkpoint trained as
// one) needs beyond a causal LM: BERT's special tokens added to the corpus's tokenizer, masked
// windows as data (core's mlmDataset), the word in meta.json that marks the checkpoint as a masked
// LM (`objective`), and the ids fill-mask reads. The validation loss is the cross-entropy over the
// masked positions only, nats per masked token: it has no bits-per-character reading, since the
// model sees both sides of each masked token.
import {
  CheckpointError,
  type Graph,
  type MlmDataset,
  type MlmSpecialIds,
  type TokenArray,
  type TokenSource,
  type Tokenizer,
  type TokenizerRegistry,
  mlmDataset,
  mlmWindowCount,
  parseTokenizerSpec,
} from '@ganglion/core';
import { BERT_SPECIAL_TOKENS, withSpecialTokens } from '@ganglion/text';
import { UsageError } from './args.js';

/** meta.json's `objective` of a masked-LM checkpoint. */
export const MASKED_LM = 'masked-lm';

/** One line for the run's log. */
export const MLM_NOTE =
  'masked LM: 15% of each window predicted (80% [MASK], 10% a random token, 10% unchanged); the loss is nats per masked token (bits per character does not apply)';

/** Whether a checkpoint's meta marks it as a masked LM. */
export function isMaskedLm(meta: Readonly<Record<string, unknown>> | undefined): boolean {
  return meta?.objective === MASKED_LM;
}

/** A --tokenizer spec a masked LM can use: not `char`, whose vocabulary cannot hold [MASK]. */
export function checkMlmTokenizerSpec(spec: string, preset: string): void {
  if (parseTokenizerSpec(spec).kind === 'char')
    throw new UsageError(
      `--tokenizer ${spec}: preset ${preset} needs [CLS], [SEP] and [MASK] tokens, which a char tokenizer cannot hold; use word:N, bpe:N or hf:PATH`,
    );
}

/** The corpus's tokenizer with [PAD], [CLS], [SEP] and [MASK] after its own ids (unchanged if it has them). */
export function mlmTokenizer(tokenizer: Tokenizer, registry: TokenizerRegistry): Tokenizer {
  return withSpecialTokens(tokenizer, BERT_SPECIAL_TOKENS, registry);
}

/** The ids of [CLS], [SEP], [MASK], and those never predicted ([PAD], `<|endoftext|>`, `<unk>`). */
export function mlmSpecialIds(tokenizer: Tokenizer, where: string): MlmSpecialIds & { reserved: number[] } {
  const id = (t: string) => {
    const i = tokenizer.specialId(t);
    if (i === undefined)
      throw new CheckpointError(`${where}: the tokenizer has no ${t} token, so it is not a masked LM's`);
    return i;
  };
  const reserved = ['[PAD]', '<|endoftext|>', '<unk>']
    .map((t) => tokenizer.specialId(t))
    .filter((i): i is number => i !== undefined);
  return { cls: id('[CLS]'), sep: id('[SEP]'), mask: id('[MASK]'), reserved };
}

/** The rows of the model's position table: the longest window it reads. */
export function mlmContext(graph: Graph): number | undefined {
  const table = graph.nodes.find((n) => n.layer.kind === 'PositionEmbedding');
  const rows = table?.signature.params[0]?.shape[0];
  return typeof rows === 'number' ? rows : undefined;
}

/** Training and validation datasets of masked windows of `seqLen` tokens, [CLS] and [SEP] included. */
export function mlmDatasets(
  tokenizer: Tokenizer,
  graph: Graph,
  tokens: { train: TokenArray | TokenSource; validation: TokenArray | TokenSource },
  o: { seqLen: number; batchSize: number; seed: number },
): { train: MlmDataset; validation: MlmDataset } {
  const context = mlmContext(graph);
  if (context !== undefined && o.seqLen > context)
    throw new UsageError(
      `--seq-len ${o.seqLen}: the model reads at most ${context} tokens ([CLS] and [SEP] included); pass --seq-len ${context} or less, or a larger --context`,
    );
  if (o.seqLen < 3)
    throw new UsageError(`--seq-len ${o.seqLen}: a window needs [CLS], a token and [SEP], so at least 3`);
  const specials = mlmSpecialIds(tokenizer, 'train');
  const common = { seqLen: o.seqLen, vocabSize: tokenizer.vocabSize, specials, reserved: specials.reserved };
  const valWindows = mlmWindowCount(tokens.validation.length, o.seqLen);
  return {
    train: mlmDataset(tokens.train, { ...common, batchSize: o.batchSize, shuffle: true, seed: o.seed }),
    validation: mlmDataset(tokens.validation, {
      ...common,
      batchSize: Math.max(1, Math.min(o.batchSize, valWindows)),
      seed: o.seed,
    }),
  };
}
