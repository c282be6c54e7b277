// The benchmark workloads: the reference char-LM (vocabulary 65, Embedding 64 -> LSTM 256 ->
// LSTM 256 -> Dense 65, sequence 64, batch 32, Adam, global-norm clipping 1.0) with a small
// variant for --quick, and four GPTs (vocabulary 89, pre-norm blocks, learned positions, tied
// head, AdamW, clipping 1.0), plus how many steps each kind of contender is timed for. Nothing
// here imports a framework at load time: every contender's child process loads this module
// (workloadGraph imports Ganglion when called).
import { BenchError } from './contender.js';

export interface StepCounts {
  readonly warmup: number;
  readonly measured: number;
  readonly forwardWarmup: number;
  readonly forwardMeasured: number;
}

/** How fast a contender is expected to be, which decides how many steps it is timed over. */
export type Pace = 'fast' | 'medium' | 'slow';

interface WorkloadCommon {
  readonly vocab: number;
  readonly seqLen: number;
  readonly batch: number;
  readonly optimizer: 'adam' | 'adamw';
  readonly lr: number;
  /** Global-norm clipping threshold. */
  readonly clipNorm: number;
  /** Intra-op threads for the peers that use several (PyTorch, onnxruntime). */
  readonly threads: number;
  /** Steps per pace: a contender that needs 20 s a step is timed over fewer steps. */
  readonly steps: Readonly<Record<Pace, StepCounts>>;
}

export interface LstmWorkload extends WorkloadCommon {
  readonly kind: 'char-lstm';
  readonly name: 'full' | 'quick';
  readonly embed: number;
  readonly units: number;
  /** Stacked LSTM layers. */
  readonly layers: number;
}

export const GPT_WORKLOAD_NAMES = ['gpt-0.8m', 'gpt-5m', 'gpt-25m', 'gpt-85m'] as const;
/** Fine-tuning a GPT-2-small-shaped model (124M parameters, vocabulary 50,257): all weights, or LoRA r=8 on q, v. */
export const FINETUNE_WORKLOAD_NAMES = ['gpt2-small', 'gpt2-small-lora'] as const;
export type GptWorkloadName = (typeof GPT_WORKLOAD_NAMES)[number] | (typeof FINETUNE_WORKLOAD_NAMES)[number];

/** A GPT as in `gpt({ position: 'learned' })` of @ganglion/layers; seqLen is its context. */
export interface GptWorkload extends WorkloadCommon {
  readonly kind: 'gpt';
  readonly name: GptWorkloadName;
  readonly dim: number;
  readonly heads: number;
  readonly blocks: number;
  /** AdamW's decoupled weight decay (betas 0.9/0.999 and eps 1e-8 are both sides' defaults). */
  readonly weightDecay: number;
  /** LoRA adapters (PEFT's layout) on these attention projections, every other weight frozen. */
  readonly lora?: {
    readonly rank: number;
    readonly alpha: number;
    readonly targets: readonly ('q' | 'k' | 'v' | 'o')[];
  };
  /** The time ratio's target against PyTorch (default 0.5); null: none. */
  readonly timeTarget?: number | null;
}

export type Workload = LstmWorkload | GptWorkload;
export type WorkloadKind = Workload['kind'];

const lstmShape = { kind: 'char-lstm', vocab: 65, optimizer: 'adam', lr: 1e-3, clipNorm: 1, threads: 2 } as const;

/** The reference workload, the `char-lstm` preset (2,048 tokens a step). */
export const FULL_WORKLOAD: LstmWorkload = {
  name: 'full',
  ...lstmShape,
  embed: 64,
  units: 256,
  layers: 2,
  seqLen: 64,
  batch: 32,
  steps: {
    fast: { warmup: 3, measured: 10, forwardWarmup: 3, forwardMeasured: 10 },
    medium: { warmup: 1, measured: 3, forwardWarmup: 1, forwardMeasured: 3 },
    slow: { warmup: 1, measured: 2, forwardWarmup: 1, forwardMeasured: 2 },
  },
};

const quickSteps: StepCounts = { warmup: 1, measured: 3, forwardWarmup: 1, forwardMeasured: 3 };

/** --quick: the same graph, small enough that every JS contender finishes in a few seconds. */
export const QUICK_WORKLOAD: LstmWorkload = {
  name: 'quick',
  ...lstmShape,
  embed: 16,
  units: 64,
  layers: 2,
  seqLen: 16,
  batch: 8,
  steps: { fast: quickSteps, medium: quickSteps, slow: quickSteps },
};

/**
 * A GPT workload. Only the training step is timed (no forward passes), with few steps on the big
 * ones, so that all four run in a few minutes on 2 cores.
 */
function gptWorkload(
  name: GptWorkloadName,
  s: {
    dim: number;
    blocks: number;
    heads: number;
    seqLen: number;
    batch: number;
    warmup: number;
    measured: number;
  } & Partial<Pick<GptWorkload, 'vocab' | 'lora' | 'timeTarget'>>,
): GptWorkload {
  const counts: StepCounts = { warmup: s.warmup, measured: s.measured, forwardWarmup: 0, forwardMeasured: 0 };
  const { warmup: _w, measured: _m, ...shape } = s;
  return {
    kind: 'gpt',
    name,
    vocab: 89,
    optimizer: 'adamw',
    lr: 3e-4,
    weightDecay: 0.01,
    clipNorm: 1,
    threads: 2,
    ...shape,
    steps: { fast: counts, medium: counts, slow: counts },
  };
}

const GPT2_SMALL = { vocab: 50257, dim: 768, blocks: 12, heads: 12, seqLen: 256, batch: 1, warmup: 1, measured: 3 };

export const GPT_WORKLOADS: Readonly<Record<GptWorkloadName, GptWorkload>> = {
  'gpt-0.8m': gptWorkload('gpt-0.8m', {
    dim: 128,
    blocks: 4,
    heads: 4,
    seqLen: 128,
    batch: 8,
    warmup: 2,
    measured: 10,
  }),
  'gpt-5m': gptWorkload('gpt-5m', { dim: 256, blocks: 6, heads: 4, seqLen: 256, batch: 8, warmup: 2, measured: 5 }),
  'gpt-25m': gptWorkload('gpt-25m', { dim: 512, blocks: 8, heads: 8, seqLen: 256, batch: 4, warmup: 1, measured: 4 }),
  'gpt-85m': gptWorkload('gpt-85m', { dim: 768, blocks: 12, heads: 12, seqLen: 256, batch: 2, warmup: 1, measured: 3 }),
  'gpt2-small': gptWorkload('gpt2-small', { ...GPT2_SMALL, timeTarget: 0.7 }),
  'gpt2-small-lora': gptWorkload('gpt2-small-lora', {
    ...GPT2_SMALL,
    lora: { rank: 8, alpha: 16, targets: ['q', 'v'] },
    timeTarget: null,
  }),
};

/** Every workload by the name a child process is given. */
export function workloadNamed(name: string): Workload | undefined {
  if (name === 'full') return FULL_WORKLOAD;
  if (name === 'quick') return QUICK_WORKLOAD;
  return (GPT_WORKLOADS as Readonly<Record<string, GptWorkload>>)[name];
}

export const tokensPerStep = (w: Workload): number => w.batch * w.seqLen;

/** The workload, when it is the char-LSTM: what a char-LSTM-only contender's prepare takes. */
export function charLstmOnly(w: Workload, contender: string): LstmWorkload {
  if (w.kind !== 'char-lstm')
    throw new BenchError(`${contender} has a char-LSTM model only, not one for workload "${w.name}"`);
  return w;
}

/**
 * The GPT's parameter count from its shapes: token table V·D and position table T·D, then per
 * block two LayerNorms (4·D), the fused QKV projection (3·D² + 3·D), the output projection
 * (D² + D) and the MLP (4·D² + 4·D and 4·D² + D), and the final LayerNorm (2·D); the head reuses
 * the token table. LoRA adds A [r, D] and B [D, r] per target per block.
 */
export function gptParamCount(w: GptWorkload): number {
  const d = w.dim;
  const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d);
  const lora = w.lora ? w.lora.targets.length * 2 * w.lora.rank * d : 0;
  return w.vocab * d + w.seqLen * d + w.blocks * (block + lora) + 2 * d;
}

/** The workload's model as a Ganglion graph, from @ganglion/layers' model builders. */
export async function workloadGraph(w: Workload): Promise<import('@ganglion/core').Graph> {
  const { charLstm, gpt } = await import('@ganglion/layers');
  if (w.kind === 'char-lstm') return charLstm(w.embed, Array(w.layers).fill(w.units))(w.vocab);
  const graph = gpt({
    dim: w.dim,
    heads: w.heads,
    blocks: w.blocks,
    context: w.seqLen,
    position: 'learned',
    ...(w.lora ? { lora: w.lora } : {}),
  })(w.vocab);
  return w.lora ? graph.freeze((key) => !key.includes('.lora_')) : graph;
}

/** The fixed batch every contender trains on: `ids` and next-token `labels`, [batch, seqLen]. */
export function syntheticBatch(w: Workload): { ids: Int32Array; labels: Int32Array } {
  const n = tokensPerStep(w);
  const next = mulberry32(0x9e3779b9);
  const ids = Int32Array.from({ length: n }, () => Math.floor(next() * w.vocab));
  const labels = Int32Array.from({ length: n }, () => Math.floor(next() * w.vocab));
  return { ids, labels };
}

/** A tiny seeded generator: the token values do not matter to the timings, only that they repeat. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
