// What the searches (sample-decode.ts, beam-search.ts) need from a model: a `DecoderStep` that maps
// one token per row to next-token logits, carrying its state (LSTM h/c, a KV cache, an encoder's
// memory) from call to call, and that permutes that state's rows when the search re-ranks, grows or
// drops its rows. Rows are what the search decodes at once: one per sequence for greedy and
// sampling, up to K per sequence for beam search, sequences that finished left out. The searches
// know nothing else of the model: the framework's runtime (runtime-decoder.ts), onnxruntime or a
// plain function can all be one.
import { ConfigError, ShapeError } from '../errors.js';

/** A decoder run one token per row per call, its carried state permuted by `reorder`. */
export interface DecoderStep {
  /** Feed one token per row; the next-token logits, [rows, vocab] row-major (rows = tokens.length). */
  step(tokens: Int32Array): Promise<Float32Array | Float64Array>;
  /**
   * Make row i of the carried state the old row `rows[i]` (repeats, omissions and a new row count
   * allowed). The next `step` gets `rows.length` tokens.
   */
  reorder(rows: Int32Array): void | Promise<void>;
}

export interface DecodeOptions {
  /**
   * The token fed first to each sequence (a start-of-sequence id, or the last token of a prompt
   * whose rest the decoder has already seen); its length is the batch. The decoder's state, if any,
   * has one row per sequence, in this order.
   */
  readonly start: Int32Array | readonly number[];
  /** The end-of-sequence id: a sequence that emits it is finished. */
  readonly end: number;
  /** The most tokens generated per sequence, the end token included. */
  readonly maxLength: number;
}

/** One decoded sequence. */
export interface Hypothesis {
  /** The generated ids, the end token left out. */
  readonly tokens: Int32Array;
  /** It emitted the end token (else it stopped at maxLength). */
  readonly finished: boolean;
  /** The sum of the model's log-probabilities (log-softmax of the logits) of its tokens, the end token included. */
  readonly logProb: number;
  /** What beam search ranks by: logProb / lengthPenalty (greedy and sampling: logProb). */
  readonly score: number;
}

/** The generated length of a hypothesis: its tokens, plus the end token if it emitted one. */
export function hypothesisLength(h: Pick<Hypothesis, 'tokens' | 'finished'>): number {
  return h.tokens.length + (h.finished ? 1 : 0);
}

/** Check the options every search takes; returns the start tokens as an Int32Array. */
export function checkDecodeOptions(who: string, o: DecodeOptions): Int32Array {
  if (o.start.length === 0) throw new ConfigError(`${who}: "start" is empty, expected one start token per sequence`);
  if (!(Number.isInteger(o.maxLength) && o.maxLength >= 1))
    throw new ConfigError(`${who}: maxLength must be a positive integer, got ${o.maxLength}`);
  if (!(Number.isInteger(o.end) && o.end >= 0))
    throw new ConfigError(`${who}: end must be a token id (an integer >= 0), got ${o.end}`);
  return Int32Array.from(o.start);
}

/** One step of the decoder, its logits checked to hold [rows, vocab] with vocab > `end`. */
export async function stepLogits(
  who: string,
  decoder: DecoderStep,
  tokens: Int32Array,
  end: number,
): Promise<{ logits: Float32Array | Float64Array; vocab: number }> {
  const logits = await decoder.step(tokens);
  const rows = tokens.length;
  const vocab = logits.length / rows;
  if (!(Number.isInteger(vocab) && vocab >= 1))
    throw new ShapeError(
      `${who}: the decoder returned ${logits.length} logits for ${rows} rows, expected rows × vocab`,
    );
  if (end >= vocab) throw new ConfigError(`${who}: end token ${end} is outside the vocabulary of ${vocab} ids`);
  return { logits, vocab };
}

/** log-softmax of row `row` of [rows, vocab] logits, in float64. */
export function logSoftmaxRow(logits: ArrayLike<number>, row: number, vocab: number): Float64Array {
  const out = new Float64Array(vocab);
  let m = -Infinity;
  for (let v = 0; v < vocab; v++) m = Math.max(m, logits[row * vocab + v]);
  let total = 0;
  for (let v = 0; v < vocab; v++) total += Math.exp(logits[row * vocab + v] - m);
  const lse = m + Math.log(total);
  for (let v = 0; v < vocab; v++) out[v] = logits[row * vocab + v] - lse;
  return out;
}

/** Whether `rows` is 0 .. count-1 (nothing to reorder). */
export function isIdentity(rows: Int32Array, count: number): boolean {
  return rows.length === count && rows.every((r, i) => r === i);
}
