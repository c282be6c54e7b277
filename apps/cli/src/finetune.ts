// What `ganglion finetune` adds to training: start from a checkpoint's graph, weights and tokenizer,
// optionally with LoRA adapters on the attention projections (every base weight then frozen, as
// PEFT does) or with some parameters frozen by pattern. Frozen parameters get no gradient, no
// optimizer slots and no place in the compiled step's gradient graph (Graph.freeze).
import { type Graph, type LayerResolver, graphFromJSON } from '@ganglion/core';
import { UsageError, num } from './args.js';

export interface LoraSettings {
  readonly rank: number;
  readonly alpha: number;
  readonly dropout: number;
  readonly targets: readonly ('q' | 'k' | 'v' | 'o')[];
}

export const FINETUNE_HELP = `usage: ganglion finetune CKPT [--corpus PATH | --data DIR] [--lora [r=8,alpha=16,dropout=0.05]]
                         [--lora-targets q,k,v,o] [--freeze PATTERN[,PATTERN...]] [--steps N] [--time-budget SECONDS]
                         [--batch N] [--seq-len N] [--lr X] [--optimizer NAME] [--clip NAME[:VALUE]] [--seed N]
                         [--out DIR] [--checkpoint-every N] [--resume | --overwrite] [--json] [--grad-accum K]
Trains checkpoint CKPT (one \`ganglion import hf\` made, or \`ganglion train\`) further on your text, with its
own tokenizer, and saves the result in --out (default runs/finetune) like train does. Defaults: AdamW,
lr 1e-4 (1e-3 with --lora), clip 1, batch 8, seq-len 128 (at most the model's context).
--lora adds LoRA adapters (rank r, scale alpha/r, dropout on their input) to the attention
projections named by --lora-targets (default q,v) and freezes every other weight; \`ganglion
merge-lora\` folds them into the weights afterwards. --freeze keeps the parameters whose names match
a pattern fixed (\`*\` matches anything; names as \`ganglion inspect\` lists them, e.g. embed.weight,
block1.*); it cannot be combined with --lora, which already freezes every base weight.
--data DIR must have been prepared with the checkpoint's tokenizer.json (--tokenizer hf:CKPT/tokenizer.json);
--corpus is tokenized with it on the fly.`;

const TARGETS = ['q', 'k', 'v', 'o'] as const;

/** --lora, --lora-targets and --freeze, checked. */
export function finetuneSettings(values: Readonly<Record<string, string | boolean | undefined>>): {
  lora?: LoraSettings;
  freeze?: string[];
} {
  const freeze =
    typeof values.freeze === 'string'
      ? values.freeze
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : undefined;
  if (freeze && freeze.length === 0) throw new UsageError('--freeze: give one or more parameter-name patterns');
  if (values.lora === undefined) {
    if (values['lora-targets'] !== undefined) throw new UsageError('--lora-targets: only with --lora');
    return freeze ? { freeze } : {};
  }
  if (freeze) throw new UsageError('--freeze and --lora: --lora already freezes every base weight; choose one');
  const fields: Record<string, string> = {};
  for (const part of String(values.lora)
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!['r', 'alpha', 'dropout'].includes(k) || v === undefined)
      throw new UsageError(`--lora: expected r=N,alpha=X[,dropout=P], got ${JSON.stringify(part)}`);
    fields[k] = v;
  }
  const rank = num('lora r', fields.r, 8, { min: 1, integer: true });
  const targets = String(values['lora-targets'] ?? 'q,v')
    .split(',')
    .map((t) => t.trim());
  const bad = targets.find((t) => !(TARGETS as readonly string[]).includes(t));
  if (bad !== undefined)
    throw new UsageError(
      `--lora-targets: ${JSON.stringify(bad)} is not one of ${TARGETS.join(', ')} (the attention projections)`,
    );
  return {
    lora: {
      rank,
      alpha: num('lora alpha', fields.alpha, 2 * rank, { min: 0, exclusiveMin: true }),
      dropout: num('lora dropout', fields.dropout, 0, { min: 0 }),
      targets: [...new Set(targets)] as LoraSettings['targets'],
    },
  };
}

/** Layers whose attention takes LoRA adapters. */
const ATTENTION_KINDS = ['TransformerBlock', 'MultiHeadAttention'];

const patternOf = (glob: string) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** The checkpoint's graph with the adapters added and the frozen parameters marked. */
export function adaptForFinetuning(
  graph: Graph,
  s: { readonly base?: string; readonly lora?: LoraSettings; readonly freeze?: readonly string[] },
  resolve: LayerResolver,
): Graph {
  if (s.lora) {
    const json = graph.toJSON();
    if (!json.nodes.some((n) => ATTENTION_KINDS.includes(n.kind)))
      throw new UsageError(
        `--lora: ${s.base} has no attention layers to adapt (LoRA goes on ${ATTENTION_KINDS.join(' and ')} projections)`,
      );
    const { rank, alpha, dropout, targets } = s.lora;
    const nodes = json.nodes.map((n) =>
      ATTENTION_KINDS.includes(n.kind)
        ? { ...n, config: { ...(n.config as object), lora: { rank, alpha, dropout, targets } } }
        : n,
    );
    const adapted = graphFromJSON({ ...json, nodes }, resolve);
    return adapted.freeze((key) => !/\.lora_[qkvo]_[AB]$/.test(key));
  }
  if (s.freeze) {
    const keys = graph.params().map((p) => `${p.node}.${p.spec.name}`);
    for (const glob of s.freeze)
      if (!keys.some((k) => patternOf(glob).test(k)))
        throw new UsageError(
          `--freeze ${glob}: matches no parameter of ${s.base} (parameters look like ${keys.slice(0, 3).join(', ')}, ...)`,
        );
    const frozen = graph.freeze((key) => s.freeze!.some((glob) => patternOf(glob).test(key)));
    if (frozen.params().every((p) => p.spec.trainable === false))
      throw new UsageError(`--freeze ${s.freeze.join(',')}: freezes every parameter; nothing would be trained`);
    return frozen;
  }
  return graph;
}

/** The default sequence length: finetune's, capped by a learned position table's rows. */
export function finetuneSeqLen(graph: Graph, fallback: number): number {
  const table = graph.nodes.find((n) => n.layer.kind === 'PositionEmbedding');
  const rows = table?.signature.params[0]?.shape[0];
  return rows === undefined ? fallback : Math.min(fallback, rows);
}

/** `124,439,808 parameters, 294,912 trainable (LoRA r=8 on q, v)`. */
export function describeParams(
  graph: Graph,
  s: { readonly lora?: LoraSettings; readonly freeze?: readonly string[] },
): string {
  const count = (ps: ReturnType<Graph['params']>) =>
    ps.reduce((n, p) => n + p.spec.shape.reduce((a, b) => a * b, 1), 0).toLocaleString('en-US');
  const trainable = graph.params().filter((p) => p.spec.trainable !== false);
  const why = s.lora
    ? ` (LoRA r=${s.lora.rank} on ${s.lora.targets.join(', ')})`
    : s.freeze
      ? ` (frozen: ${s.freeze.join(', ')})`
      : '';
  return `${count(graph.params())} parameters, ${count(trainable)} trainable${why}`;
}

/** Meta an imported checkpoint carries through fine-tuning (where it came from, its special tokens). */
export function carriedMeta(meta: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['importedFrom', 'architecture', 'eosTokenIds', 'bosTokenId', 'finetunedFrom', 'lora'])
    if (meta?.[k] !== undefined) out[k] = meta[k];
  return out;
}
