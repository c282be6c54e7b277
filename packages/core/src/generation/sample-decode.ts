// Greedy decoding and sampling, batched: every unfinished sequence is one row of each decoder step,
// and a sequence that emits the end token leaves the batch (the decoder's rows are reordered to the
// ones still running). Each token is drawn by `sampleToken` (sampling.ts), the one sampling code of
// the project; greedy is sampling at temperature 0.
import { ConfigError } from '../errors.js';
import {
  type DecodeOptions,
  type DecoderStep,
  type Hypothesis,
  checkDecodeOptions,
  isIdentity,
  logSoftmaxRow,
  stepLogits,
} from './decoder.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

/**
 * Sample one continuation per sequence: token t of sequence b is `sampleToken(logits, { ...opts,
 * seed: opts.seed + b }, t)`, so sequence 0 draws as `ganglion generate` does with that seed, and
 * sequence b decoded alone with seed `opts.seed + b` draws the same tokens. Returns one hypothesis
 * per sequence, its logProb under the model's (untempered) distribution.
 *
 *   const [h] = await sampleDecode(decoder, { start: [BOS], end: EOS, maxLength: 50, temperature: 0.8, seed: 1 });
 */
export async function sampleDecode(decoder: DecoderStep, opts: DecodeOptions & SamplingOptions): Promise<Hypothesis[]> {
  return decodeOneRow('sampleDecode', decoder, opts);
}

/**
 * The most likely next token at every step (the first of equal logits), until the end token or
 * maxLength; one hypothesis per sequence. Equal to beam search with one beam.
 *
 *   const [h] = await greedyDecode(decoder, { start: [BOS], end: EOS, maxLength: 50 });
 */
export async function greedyDecode(decoder: DecoderStep, opts: DecodeOptions): Promise<Hypothesis[]> {
  return decodeOneRow('greedyDecode', decoder, { ...opts, temperature: 0, seed: 0 });
}

async function decodeOneRow(
  who: string,
  decoder: DecoderStep,
  opts: DecodeOptions & SamplingOptions,
): Promise<Hypothesis[]> {
  const start = checkDecodeOptions(who, opts);
  if (!(opts.temperature >= 0)) throw new ConfigError(`${who}: temperature must be >= 0, got ${opts.temperature}`);
  const tokens = Array.from(start, () => [] as number[]);
  const logProbs = new Float64Array(start.length);
  const results: (Hypothesis | undefined)[] = new Array(start.length);
  let running = Array.from(start, (_, b) => b); // the sequence of each decoder row
  let feed = start;
  for (let t = 0; t < opts.maxLength && running.length > 0; t++) {
    const { logits, vocab } = await stepLogits(who, decoder, feed, opts.end);
    const keep: number[] = [];
    running.forEach((b, row) => {
      const id = sampleToken(logits.subarray(row * vocab, (row + 1) * vocab), { ...opts, seed: opts.seed + b }, t);
      logProbs[b] += logSoftmaxRow(logits, row, vocab)[id];
      const finished = id === opts.end;
      if (!finished) tokens[b].push(id);
      if (finished || t === opts.maxLength - 1)
        results[b] = { tokens: Int32Array.from(tokens[b]), finished, logProb: logProbs[b], score: logProbs[b] };
      else keep.push(row);
    });
    if (keep.length === 0 || t === opts.maxLength - 1) break;
    const rows = Int32Array.from(keep);
    if (!isIdentity(rows, running.length)) await decoder.reorder(rows);
    running = keep.map((row) => running[row]);
    feed = Int32Array.from(running, (b) => tokens[b][tokens[b].length - 1]);
  }
  return results as Hypothesis[];
}
