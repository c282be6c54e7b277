// The sampling distribution over next tokens (greedy, temperature, top-k, top-p) and the seeded draw
// from it: one token from one row of logits. `ganglion generate` and the batched decoders
// (sample-decode.ts) both draw through `sampleToken`, so a seed means the same tokens everywhere.
import { uniformAt } from '../random/prng.js';

export interface SamplingOptions {
  /** 0 is greedy. */
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed: number;
}

/**
 * Ids ranked by logit, highest first (ties: the lower id first). Sampling keeps a prefix of this
 * ranking (top-k, top-p) and inverts the CDF in this order.
 */
function ranked(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
}

/** The index of the first highest value. */
function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The ids `sampleToken` may draw, in rank order, and their probabilities (summing to 1). */
function nucleus(logits: ArrayLike<number>, opts: Omit<SamplingOptions, 'seed'>): { ids: number[]; probs: number[] } {
  if (opts.temperature === 0) return { ids: [argMax(logits)], probs: [1] };
  let ids = ranked(logits);
  if (opts.topK && opts.topK < ids.length) ids = ids.slice(0, opts.topK);
  const m = logits[ids[0]];
  let probs = normalize(ids.map((i) => Math.exp((logits[i] - m) / opts.temperature)));
  if (opts.topP !== undefined && opts.topP < 1) {
    // The smallest head of the ranking whose probability reaches topP.
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < opts.topP) acc += probs[keep++];
    ids = ids.slice(0, keep);
    probs = normalize(probs.slice(0, keep));
  }
  return { ids, probs };
}

function normalize(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/**
 * The probability of each id under the sampling options: softmax(logits / temperature) over the
 * topK highest logits, then cut to the smallest set of most likely ids whose mass reaches topP, and
 * renormalized. Temperature 0 puts all the mass on the first highest logit.
 *
 *   tokenProbabilities([Math.log(1), Math.log(3)], { temperature: 1 })  // [0.25, 0.75]
 */
export function tokenProbabilities(logits: ArrayLike<number>, opts: Omit<SamplingOptions, 'seed'>): Float64Array {
  const out = new Float64Array(logits.length);
  const { ids, probs } = nucleus(logits, opts);
  ids.forEach((id, k) => (out[id] = probs[k]));
  return out;
}

/**
 * Draw a token from `tokenProbabilities(logits, opts)`: the uniform number `draw` of the seeded
 * stream, u, picks the id whose interval holds u, the intervals laid end to end in rank order.
 *
 *   const id = sampleToken(logits, { temperature: 0.8, topK: 40, seed: 1 }, step);
 */
export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, draw: number): number {
  const { ids, probs } = nucleus(logits, opts);
  if (ids.length === 1) return ids[0];
  let u = uniformAt(opts.seed, draw);
  for (let k = 0; k < probs.length; k++) {
    u -= probs[k];
    if (u < 0) return ids[k];
  }
  return ids[ids.length - 1];
}
