// Text generation from a character language model: sampling (greedy, temperature, top-k, top-p,
// seeded) and streaming one token per step. A `TokenModel` hides where the logits come from: the
// framework's runtime (state carried in its messages), onnxruntime running the graph, or a
// stateful .onnx file alone. None of them re-runs the prefix.
import { type CharTokenizer, type Runtime, tensor, tidy, uniformAt } from '@ganglion/core';

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
  /** Feed the next tokens (the prompt, then one at a time); the logits after the last one. */
  next(ids: Int32Array, position: number): Promise<Float32Array | Float64Array>;
}

/** Pick a token from one row of logits; `draw` indexes the seeded uniform stream. */
export function sample(logits: ArrayLike<number>, opts: SamplingOptions, draw: number): number {
  const n = logits.length;
  if (opts.temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  if (opts.topK && opts.topK < n) order = order.slice(0, opts.topK);
  const m = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - m) / opts.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / total);
  if (opts.topP !== undefined && opts.topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < opts.topP) acc += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    total = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / total);
  }
  let u = uniformAt(opts.seed, draw);
  for (let k = 0; k < probs.length; k++) {
    u -= probs[k];
    if (u < 0) return order[k];
  }
  return order[order.length - 1];
}

/** The last row of [1, time, vocab] logits. */
export function lastRow(data: Float32Array | Float64Array, vocab: number): Float32Array | Float64Array {
  return data.slice(data.length - vocab);
}

/** The framework's runtime as a TokenModel: streaming waves, state carried in messages. */
export function runtimeModel(runtime: Runtime): TokenModel {
  return {
    reset: () => runtime.resetState(),
    next: async (ids, position) =>
      tidy(() => {
        const { logits } = runtime.forward({ ids: tensor(ids, [1, ids.length], 'int32', runtime.backend) }, { stream: true, position });
        return lastRow(logits.dataSync() as Float32Array | Float64Array, logits.shape[2] as number);
      }),
  };
}

/**
 * Generate `maxTokens` characters after `prompt`, calling `onToken` as each is produced. The prompt
 * is fed once; then one token per step, the model carrying its state.
 */
export async function generate(model: TokenModel, tokenizer: CharTokenizer, prompt: string, maxTokens: number, opts: SamplingOptions, onToken: (text: string) => void = () => {}): Promise<string> {
  model.reset();
  const promptIds = tokenizer.encode(prompt);
  let out = '';
  let position = 0;
  let next = sample(await model.next(promptIds, position), opts, 0);
  position += promptIds.length;
  for (let i = 0; i < maxTokens; i++) {
    const text = tokenizer.decode([next]);
    out += text;
    onToken(text);
    if (i === maxTokens - 1) break;
    const logits = await model.next(Int32Array.of(next), position);
    next = sample(logits, opts, i + 1);
    position++;
  }
  model.reset();
  return out;
}
