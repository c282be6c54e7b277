// Text generation from a language model: streaming one token per step, each drawn by
// core's `sampleToken` (greedy, temperature, top-k, top-p, seeded). A `TokenModel` hides
// where the logits come from: the framework's runtime (state carried in its messages), onnxruntime
// running the graph, or a stateful .onnx file alone. None of them re-runs the prefix.
//
// The prompt is fed in chunks of at most PREFILL_CHUNK tokens, the state (LSTM h/c, the KV cache)
// carried from chunk to chunk, so the work and memory of one call stay bounded however long the
// prompt is. A recurrence carries its whole past in its state, and attention masks each query by
// its stream position (causal, sliding window) against the cache plus the chunk, so the logits are
// those of one unchunked call, for chunks shorter or longer than an attention window alike.
import { tensor } from '../creation.js';
import { StreamDecoder, type Tokenizer } from '../data/tokenizer.js';
import { tidy } from '../engine.js';
import type { Runtime } from '../graph/runtime.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

/** Something that maps token ids to next-token logits, keeping its own state between calls. */
export interface TokenModel {
  /** Forget the carried state (a new sequence starts). */
  reset(): void;
  /** Feed the next tokens (a prompt chunk, then one at a time); the logits after the last one. */
  next(ids: Int32Array, position: number): Promise<Float32Array | Float64Array>;
}

/** The most prompt tokens fed to a TokenModel in one call. */
export const PREFILL_CHUNK = 256;

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
  let next = sampleToken(await prefill(model, promptIds, 0), opts, 0);
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
    next = sampleToken(logits, opts, i + 1);
    position++;
  }
  emit(decoder.flush());
  model.reset();
  return out;
}
