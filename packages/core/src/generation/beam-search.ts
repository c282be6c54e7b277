// Beam search, batched: B sequences × up to K beams are the rows of each decoder step. It starts
// from one row per sequence (the decoder's state as the caller left it) and after every step keeps,
// per sequence, the K most likely continuations, telling the decoder which old row each new row
// continues (`reorder`), so B rows grow into B·K and finished sequences drop out.
//
// The rules are Hugging Face's (BeamSearchScorer with early_stopping=True), which are also
// fairseq's: the candidates of a sequence (each live beam × each token) are ranked by their summed
// log-probability, ties to the earlier beam, then the lower id; walking that ranking, an end token
// within the first K ranks finishes a hypothesis, and the first K other candidates become the next
// beams. A sequence is done once it holds K finished hypotheses ("every beam has emitted the end
// token"); at maxLength its live beams are kept unfinished. The finished hypotheses are ranked by
// logProb / lengthPenalty(length).
//
// Length penalty: GNMT's (Wu et al. 2016) lp = ((5 + length) / 6)^alpha, length counting the end
// token. alpha 0 (the default) ranks by log-probability, which favours short outputs; 0.6–1 is
// usual for translation. NOTE: GNMT's form rather than Hugging Face's length^alpha, because at
// alpha 1 length^alpha is the per-token mean, which overrates a one-token hypothesis.
import { ConfigError } from '../errors.js';
import {
  type DecodeOptions,
  type DecoderStep,
  type Hypothesis,
  checkDecodeOptions,
  hypothesisLength,
  isIdentity,
  logSoftmaxRow,
  stepLogits,
} from './decoder.js';

export interface BeamSearchOptions extends DecodeOptions {
  /** Beams kept per sequence (K). */
  readonly beam: number;
  /** alpha of the length penalty ((5 + length) / 6)^alpha. Default 0 (plain log-probability). */
  readonly lengthPenalty?: number;
  /** Hypotheses returned per sequence, best first. Default `beam`. */
  readonly nBest?: number;
}

/**
 * GNMT's length penalty ((5 + length) / 6)^alpha, which a hypothesis's logProb is divided by.
 *
 *   lengthPenalty(7, 1) // 2
 */
export function lengthPenalty(length: number, alpha: number): number {
  return alpha === 0 ? 1 : ((5 + length) / 6) ** alpha;
}

interface Beam {
  readonly tokens: readonly number[];
  readonly logProb: number;
}

interface Candidate {
  readonly beam: number; // index into the sequence's live beams
  readonly token: number;
  readonly logProb: number;
}

/**
 * The `beam` best continuations of each sequence, up to `nBest` hypotheses each, best first.
 *
 *   const [nbest] = await beamSearch(decoder, { start: [BOS], end: EOS, maxLength: 30, beam: 5, lengthPenalty: 0.6 });
 *   nbest[0].tokens // the best output, without the end token
 */
export async function beamSearch(decoder: DecoderStep, opts: BeamSearchOptions): Promise<Hypothesis[][]> {
  const who = 'beamSearch';
  const start = checkDecodeOptions(who, opts);
  const K = opts.beam;
  const alpha = opts.lengthPenalty ?? 0;
  const nBest = opts.nBest ?? K;
  if (!(Number.isInteger(K) && K >= 1)) throw new ConfigError(`${who}: beam must be a positive integer, got ${K}`);
  if (!Number.isFinite(alpha)) throw new ConfigError(`${who}: lengthPenalty must be a finite number, got ${alpha}`);
  if (!(Number.isInteger(nBest) && nBest >= 1))
    throw new ConfigError(`${who}: nBest must be a positive integer, got ${nBest}`);

  const finished = Array.from(start, () => [] as Hypothesis[]);
  const hypothesis = (tokens: readonly number[], done: boolean, logProb: number): Hypothesis => {
    const h = { tokens: Int32Array.from(tokens), finished: done, logProb };
    return { ...h, score: logProb / lengthPenalty(hypothesisLength(h), alpha) };
  };
  // The live beams of each running sequence; the decoder's rows are these beams, in this order.
  let running = Array.from(start, (_, b) => ({ b, beams: [{ tokens: [], logProb: 0 }] as Beam[] }));
  let feed = start;
  for (let t = 0; t < opts.maxLength && running.length > 0; t++) {
    const { logits, vocab } = await stepLogits(who, decoder, feed, opts.end);
    const last = t === opts.maxLength - 1;
    const next: typeof running = [];
    const parents: number[] = [];
    let row0 = 0; // the first row of this sequence's beams
    for (const { b, beams } of running) {
      const ranked = topCandidates(beams, logits, row0, vocab, 2 * K);
      const kept: Beam[] = [];
      const keptRows: number[] = [];
      for (let rank = 0; rank < ranked.length && kept.length < K; rank++) {
        const c = ranked[rank];
        const tokens = beams[c.beam].tokens;
        if (c.token === opts.end) {
          if (rank < K) finished[b].push(hypothesis(tokens, true, c.logProb));
        } else {
          kept.push({ tokens: [...tokens, c.token], logProb: c.logProb });
          keptRows.push(row0 + c.beam);
        }
      }
      row0 += beams.length;
      const done = finished[b].length >= K || kept.length === 0;
      if (!done && last) for (const k of kept) finished[b].push(hypothesis(k.tokens, false, k.logProb));
      if (!done && !last) {
        next.push({ b, beams: kept });
        parents.push(...keptRows);
      }
    }
    running = next;
    if (running.length === 0) break;
    const rows = Int32Array.from(parents);
    if (!isIdentity(rows, feed.length)) await decoder.reorder(rows);
    feed = Int32Array.from(running.flatMap(({ beams }) => beams.map((k) => k.tokens[k.tokens.length - 1])));
  }
  // A stable sort: equal scores keep the order they finished in.
  return finished.map((hs) => [...hs].sort((x, y) => y.score - x.score).slice(0, nBest));
}

/**
 * The `cap` best (beam, token) continuations of a sequence's beams (rows row0 .. row0 + beams - 1
 * of the logits), by summed log-probability, highest first; ties: earlier beam, then lower id.
 * Impossible ones (log-probability -Infinity) are left out.
 */
function topCandidates(
  beams: readonly Beam[],
  logits: Float32Array | Float64Array,
  row0: number,
  vocab: number,
  cap: number,
): Candidate[] {
  const top: Candidate[] = [];
  beams.forEach((beam, j) => {
    const lp = logSoftmaxRow(logits, row0 + j, vocab);
    for (let v = 0; v < vocab; v++) {
      const logProb = beam.logProb + lp[v];
      if (!(logProb > -Infinity)) continue;
      if (top.length === cap && !(logProb > top[cap - 1].logProb)) continue;
      // Visited in (beam, id) order: insert after equal scores, so ties keep that order.
      let at = top.length;
      while (at > 0 && top[at - 1].logProb < logProb) at--;
      top.splice(at, 0, { beam: j, token: v, logProb });
      if (top.length > cap) top.pop();
    }
  });
  return top;
}
