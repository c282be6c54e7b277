// The benchmark workload: the reference char-LM (vocabulary 65, Embedding 64 -> LSTM 256 ->
// LSTM 256 -> Dense 65, sequence 64, batch 32, Adam, softmax cross-entropy, global-norm clipping
// 1.0) and a small variant for --quick, plus how many steps each kind of contender is timed for.
// Nothing here imports a framework at load time: every contender's child process loads this
// module (workloadGraph imports Ganglion when called).
export interface Workload {
  readonly name: 'full' | 'quick';
  readonly vocab: number;
  readonly embed: number;
  readonly units: number;
  /** Stacked LSTM layers. */
  readonly layers: number;
  readonly seqLen: number;
  readonly batch: number;
  readonly lr: number;
  /** Global-norm clipping threshold. */
  readonly clipNorm: number;
  /** Intra-op threads for the peers that use several (PyTorch, onnxruntime). */
  readonly threads: number;
  /** Steps per pace: a contender that needs 20 s a step is timed over fewer steps. */
  readonly steps: Readonly<Record<Pace, StepCounts>>;
}

/** How fast a contender is expected to be, which decides how many steps it is timed over. */
export type Pace = 'fast' | 'medium' | 'slow';

export interface StepCounts {
  readonly warmup: number;
  readonly measured: number;
  readonly forwardWarmup: number;
  readonly forwardMeasured: number;
}

const shape = { vocab: 65, lr: 1e-3, clipNorm: 1, threads: 2 } as const;

/** The reference workload, the `char-lstm` preset (2,048 tokens a step). */
export const FULL_WORKLOAD: Workload = {
  name: 'full',
  ...shape,
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
export const QUICK_WORKLOAD: Workload = {
  name: 'quick',
  ...shape,
  embed: 16,
  units: 64,
  layers: 2,
  seqLen: 16,
  batch: 8,
  steps: { fast: quickSteps, medium: quickSteps, slow: quickSteps },
};

export const tokensPerStep = (w: Workload): number => w.batch * w.seqLen;

/** The fixed batch every contender trains on: `ids` and next-token `labels`, [batch, seqLen]. */
/** The workload's model as a Ganglion graph: the char-lstm preset's builder with its sizes. */
export async function workloadGraph(w: Workload): Promise<import('@ganglion/core').Graph> {
  const { charLstm } = await import('../presets.js');
  return charLstm(w.embed, Array(w.layers).fill(w.units))(w.vocab);
}

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
