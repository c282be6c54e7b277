// Text generation from a character language model: sampling (greedy, temperature, top-k, top-p,
// seeded) and streaming through the graph one token per wave, the LSTM state (or attention cache)
// carried in the runtime's messages rather than re-running the prefix.
import { type CharTokenizer, type Runtime, type Tensor, tensor, tidy, uniformAt } from '@ganglion/core';

export interface SamplingOptions {
  /** 0 is greedy. */
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed: number;
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

function lastRow(logits: Tensor): Float32Array | Float64Array {
  const v = logits.shape[2] as number;
  const data = logits.dataSync() as Float32Array | Float64Array;
  return data.subarray(data.length - v);
}

/**
 * Generate `maxTokens` characters after `prompt`, calling `onToken` as each is produced. The
 * runtime must compute `logits` from `ids` only (a graph's `subgraph(['logits'])`).
 */
export function generate(runtime: Runtime, tokenizer: CharTokenizer, prompt: string, maxTokens: number, opts: SamplingOptions, onToken: (text: string) => void = () => {}): string {
  runtime.resetState();
  const promptIds = tokenizer.encode(prompt);
  let out = '';
  let position = 0;
  let next = tidy(() => {
    const ids = tensor(promptIds, [1, promptIds.length], 'int32', runtime.backend);
    const { logits } = runtime.forward({ ids }, { stream: true, position });
    return sample(lastRow(logits), opts, 0);
  });
  position += promptIds.length;
  for (let i = 0; i < maxTokens; i++) {
    const text = tokenizer.decode([next]);
    out += text;
    onToken(text);
    if (i === maxTokens - 1) break;
    const token = next;
    next = tidy(() => {
      const { logits } = runtime.forward({ ids: tensor([token], [1, 1], 'int32', runtime.backend) }, { stream: true, position });
      return sample(lastRow(logits), opts, i + 1);
    });
    position++;
  }
  runtime.resetState();
  return out;
}
