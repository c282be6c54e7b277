// Text generation from a character language model: the sampling distribution (greedy, temperature,
// top-k, top-p) and the seeded draw from it, and streaming one token per step. A `TokenModel` hides
// where the logits come from: the framework's runtime (state carried in its messages), onnxruntime
// running the graph, or a stateful .onnx file alone. None of them re-runs the prefix.
//
// The prompt is fed in chunks of at most PREFILL_CHUNK tokens, the state (LSTM h/c, the KV cache)
// carried from chunk to chunk, so the work and memory of one call stay bounded however long the
// prompt is. A recurrence carries its whole past in its state, and attention masks each query by
// its stream position (causal, sliding window) against the cache plus the chunk, so the logits are
// those of one unchunked call, for chunks shorter or longer than an attention window alike.
import { type Runtime, StreamDecoder, type Tokenizer, tensor, tidy, uniformAt } from '@ganglion/core';

export interface SamplingOptions {
  /** 0 is greedy. */
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed: number;
}

/** Something that maps token ids to next-token logits, keeping its own state between calls. */
export interface TokenModel {
  /** Forget the carried state (a new sequence starts). */
  reset(): void;
  /** Feed the next tokens (a prompt chunk, then one at a time); the logits after the last one. */
  next(ids: Int32Array, position: number): Promise<Float32Array | Float64Array>;
}

/** The most prompt tokens fed to a TokenModel in one call. */
export const PREFILL_CHUNK = 256;

/**
 * Ids ranked by logit, highest first (ties: the lower id first). Sampling keeps a prefix of this
 * ranking (top-k, top-p) and inverts the CDF in this order.
 */
function ranked(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
}

/** The ids `sample` may draw, in rank order, and their probabilities (summing to 1). */
function nucleus(logits: ArrayLike<number>, opts: Omit<SamplingOptions, 'seed'>): { ids: number[]; probs: number[] } {
  if (opts.temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return { ids: [best], probs: [1] };
  }
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
 */
export function sample(logits: ArrayLike<number>, opts: SamplingOptions, draw: number): number {
  const { ids, probs } = nucleus(logits, opts);
  if (ids.length === 1) return ids[0];
  let u = uniformAt(opts.seed, draw);
  for (let k = 0; k < probs.length; k++) {
    u -= probs[k];
    if (u < 0) return ids[k];
  }
  return ids[ids.length - 1];
}

/** The last row of [1, time, vocab] logits (a copy: the rest can be freed). */
export function lastRow(data: Float32Array | Float64Array, vocab: number): Float32Array | Float64Array {
  return data.slice(data.length - vocab);
}

/** The framework's runtime as a TokenModel: streaming waves, state carried in messages. */
export function runtimeModel(runtime: Runtime): TokenModel {
  return {
    reset: () => runtime.resetState(),
    next: async (ids, position) =>
      tidy(() => {
        const { logits } = runtime.forward(
          { ids: tensor(ids, [1, ids.length], 'int32', runtime.backend) },
          { stream: true, position },
        );
        return lastRow(logits.dataSync() as Float32Array | Float64Array, logits.shape[2] as number);
      }),
  };
}

/**
 * Feed `ids` from stream position `position` on, at most `chunk` tokens a call; the logits after
 * the last one. The model carries its state from call to call.
 */
export async function prefill(
  model: TokenModel,
  ids: Int32Array,
  position: number,
  chunk = PREFILL_CHUNK,
): Promise<Float32Array | Float64Array> {
  if (ids.length === 0) throw new RangeError('prefill: no tokens to feed');
  if (!(Number.isInteger(chunk) && chunk >= 1))
    throw new RangeError(`prefill: chunk must be a positive integer, got ${chunk}`);
  let logits: Float32Array | Float64Array | undefined;
  for (let at = 0; at < ids.length; at += chunk) logits = await model.next(ids.slice(at, at + chunk), position + at);
  return logits!;
}

/**
 * Generate `maxTokens` characters after `prompt`, calling `onToken` as each is produced. The prompt
 * is fed once, in chunks (`prefill`); then one token per step, the model carrying its state.
 */
export async function generate(
  model: TokenModel,
  tokenizer: Tokenizer,
  prompt: string,
  maxTokens: number,
  opts: SamplingOptions,
  onToken: (text: string) => void = () => {},
): Promise<string> {
  model.reset();
  const promptIds = tokenizer.encode(prompt);
  let out = '';
  let position = promptIds.length;
  let next = sample(await prefill(model, promptIds, 0), opts, 0);
  // Text is written as it becomes whole: a token ending inside a UTF-8 character waits for the next.
  const decoder = new StreamDecoder(tokenizer, promptIds);
  const emit = (text: string) => {
    if (text === '') return;
    out += text;
    onToken(text);
  };
  for (let i = 0; i < maxTokens; i++) {
    emit(decoder.push(next));
    if (i === maxTokens - 1) break;
    const logits = await model.next(Int32Array.of(next), position);
    next = sample(logits, opts, i + 1);
    position++;
  }
  emit(decoder.flush());
  model.reset();
  return out;
}
