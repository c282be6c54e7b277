// Beam search, greedy decoding and sampling against independent computations on a "table" language
// model: the logits of a row are a fixed pseudo-random function of its source and its whole prefix,
// and the decoder's state is that prefix, so a wrong `reorder` gives wrong logits. The brute force
// enumerates every output (up to maxLength tokens, ending at the end token or at maxLength) and
// scores it by re-running each prefix from scratch with its own log-softmax.
import { describe, expect, test } from 'vitest';
import { ConfigError, ShapeError } from '../errors.js';
import { hashString, uniformAt } from '../random/prng.js';
import { beamSearch, lengthPenalty } from './beam-search.js';
import type { DecoderStep, Hypothesis } from './decoder.js';
import { greedyDecode, sampleDecode } from './sample-decode.js';
import { tokenProbabilities } from './sampling.js';

const V = 4;
const END = 3;
const START = 0;

/** The logits after `prefix` (start token included) for source `source`: values in [-3, 3). */
function tableLogits(source: number, prefix: readonly number[]): number[] {
  const seed = hashString(`${source}|${prefix.join(',')}`);
  return Array.from({ length: V }, (_, v) => 6 * uniformAt(seed, v) - 3);
}

type Logits = (source: number, prefix: readonly number[]) => number[];

/** A DecoderStep over `logits`, one row per (source, prefix); counts its steps and reorders. */
function tableDecoder(sources: readonly number[], logits: Logits = tableLogits) {
  let rows = sources.map((source) => ({ source, prefix: [] as number[] }));
  const calls = { steps: 0, reorders: [] as number[][] };
  const decoder: DecoderStep = {
    step: async (tokens) => {
      expect(tokens.length).toBe(rows.length);
      calls.steps++;
      rows.forEach((r, i) => r.prefix.push(tokens[i]));
      return Float64Array.from(rows.flatMap((r) => logits(r.source, r.prefix)));
    },
    reorder: (indices) => {
      calls.reorders.push([...indices]);
      rows = [...indices].map((i) => ({ source: rows[i].source, prefix: [...rows[i].prefix] }));
    },
  };
  return { decoder, calls };
}

function logSoftmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const lse = m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
  return xs.map((x) => x - lse);
}

const gnmt = (length: number, alpha: number) => Math.pow((5 + length) / 6, alpha);

/** Every output for `source`, scored, best first. */
function bruteForce(source: number, maxLength: number, alpha = 0, logits: Logits = tableLogits): Hypothesis[] {
  const out: Hypothesis[] = [];
  const visit = (tokens: number[], logProb: number): void => {
    const lp = logSoftmax(logits(source, [START, ...tokens]));
    for (let v = 0; v < V; v++) {
      const total = logProb + lp[v];
      const finished = v === END;
      const seq = finished ? tokens : [...tokens, v];
      const length = seq.length + (finished ? 1 : 0);
      if (finished || length === maxLength)
        out.push({ tokens: Int32Array.from(seq), finished, logProb: total, score: total / gnmt(length, alpha) });
      else visit(seq, total);
    }
  };
  visit([], 0);
  return out.sort((a, b) => b.score - a.score);
}

const plain = (hs: readonly Hypothesis[]) => hs.map((h) => `${[...h.tokens].join(' ')}${h.finished ? ' </s>' : ''}`);

function expectSameHypotheses(actual: readonly Hypothesis[], expected: readonly Hypothesis[]) {
  expect(plain(actual)).toEqual(plain(expected));
  actual.forEach((h, i) => {
    expect(h.logProb).toBeCloseTo(expected[i].logProb, 12);
    expect(h.score).toBeCloseTo(expected[i].score, 12);
  });
}

describe('beamSearch', () => {
  test.each([0, 0.6, 2])(
    'with a beam wide enough to keep every prefix it finds every output, ranked (length penalty %s)',
    async (alpha) => {
      const maxLength = 4;
      for (const source of [0, 1, 2]) {
        const expected = bruteForce(source, maxLength, alpha);
        expect(expected.length).toBe(1 + 3 + 9 + 27 + 81);
        const { decoder } = tableDecoder([source]);
        const [nbest] = await beamSearch(decoder, {
          start: [START],
          end: END,
          maxLength,
          beam: V ** maxLength,
          lengthPenalty: alpha,
          nBest: 1000,
        });
        expectSameHypotheses(nbest, expected);
      }
    },
  );

  test('beam = vocabulary size finds the exact best output over two steps', async () => {
    // With K beams only the K best prefixes survive each step, so K = V is exhaustive for two steps
    // (one prefix, then V); longer outputs need K = V^(maxLength - 1).
    for (let source = 0; source < 20; source++) {
      const { decoder } = tableDecoder([source]);
      const [nbest] = await beamSearch(decoder, { start: [START], end: END, maxLength: 2, beam: V });
      expectSameHypotheses(nbest.slice(0, 1), bruteForce(source, 2).slice(0, 1));
    }
  });

  test('one beam is greedy decoding', async () => {
    // Every third logit table has a tie for the maximum: both pick the lower id.
    const tied: Logits = (s, p) => {
      const l = tableLogits(s, p);
      if (p.length % 3 === 0) l[1] = l[2] = Math.max(...l) + 0.5;
      return l;
    };
    const sources = Array.from({ length: 12 }, (_, s) => s);
    const beam = await beamSearch(tableDecoder(sources, tied).decoder, {
      start: sources.map(() => START),
      end: END,
      maxLength: 8,
      beam: 1,
    });
    const greedy = await greedyDecode(tableDecoder(sources, tied).decoder, {
      start: sources.map(() => START),
      end: END,
      maxLength: 8,
    });
    // Greedy by hand: the argmax (first of equals) of each prefix's logits.
    for (const s of sources) {
      const tokens: number[] = [];
      let logProb = 0;
      let finished = false;
      while (!finished && tokens.length < 8) {
        const l = tied(s, [START, ...tokens]);
        const id = l.indexOf(Math.max(...l));
        logProb += logSoftmax(l)[id];
        finished = id === END;
        if (!finished) tokens.push(id);
      }
      const expected = [{ tokens: Int32Array.from(tokens), finished, logProb, score: logProb }];
      expectSameHypotheses([greedy[s]], expected);
      expectSameHypotheses(beam[s], expected);
    }
  });

  test('the length penalty changes the choice (hand-made case)', async () => {
    // First step: end and token 1 have probability 1/2 each; after 1, end has probability 0.9.
    const logits: Logits = (_s, p) =>
      p.length === 1 ? [-Infinity, 0, -Infinity, 0] : [-9, -9, -9, Math.log((0.9 * 3 * Math.exp(-9)) / 0.1)];
    const short = Math.log(0.5); // "</s>": length 1
    const long = Math.log(0.5) + logSoftmax(logits(0, [0, 1]))[END]; // "1 </s>": length 2
    expect(logSoftmax(logits(0, [0, 1]))[END]).toBeCloseTo(Math.log(0.9), 12);
    const run = async (alpha: number) =>
      (
        await beamSearch(tableDecoder([0], logits).decoder, {
          start: [0],
          end: END,
          maxLength: 5,
          beam: 2,
          lengthPenalty: alpha,
        })
      )[0];
    // alpha 0: -0.693 beats -0.799. alpha 1: -0.693 / 1 loses to -0.799 / (7/6) = -0.685.
    const none = await run(0);
    expect(plain(none)).toEqual([' </s>', '1 </s>']);
    expect(none[0].score).toBeCloseTo(short, 12);
    const one = await run(1);
    expect(plain(one)).toEqual(['1 </s>', ' </s>']);
    expect(one[0].score).toBeCloseTo(long / (7 / 6), 12);
    expect(one[0].logProb).toBeCloseTo(long, 12);
    expect(lengthPenalty(7, 1)).toBe(2);
    expect(lengthPenalty(3, 0)).toBe(1);
  });

  test('batched equals one sequence at a time', async () => {
    const sources = [4, 7, 9, 11, 2];
    const opts = { end: END, maxLength: 6, beam: 3, lengthPenalty: 0.6 };
    const { decoder, calls } = tableDecoder(sources);
    const batched = await beamSearch(decoder, { ...opts, start: sources.map(() => START) });
    for (const [i, s] of sources.entries()) {
      const [alone] = await beamSearch(tableDecoder([s]).decoder, { ...opts, start: [START] });
      expectSameHypotheses(batched[i], alone);
    }
    // Rows grew from one per sequence to up to three, and never above B·K.
    expect(calls.reorders[0].length).toBeGreaterThan(sources.length);
    for (const r of calls.reorders) expect(r.length).toBeLessThanOrEqual(sources.length * 3);
  });

  test('an end token ranked below the first K candidates finishes nothing (Hugging Face rule)', async () => {
    // K = 2. Step 1: beams "1" (0.5), "2" (0.3). Step 2: "1 </s>" 0.3, "1 1" 0.15, "2 </s>" 0.12 (rank
    // 2: skipped), "2 1" 0.09. Step 3: the end token (0.9) after either beam.
    const table: Record<string, number[]> = {
      '0': [0, 0.5, 0.3, 0.2],
      '0,1': [0, 0.3, 0.1, 0.6],
      '0,2': [0, 0.3, 0.3, 0.4],
    };
    const logits: Logits = (_s, p) => (table[p.join(',')] ?? [0, 0.05, 0.05, 0.9]).map(Math.log);
    const [nbest] = await beamSearch(tableDecoder([0], logits).decoder, {
      start: [0],
      end: END,
      maxLength: 3,
      beam: 2,
    });
    expect(plain(nbest)).toEqual(['1 </s>', '1 1 </s>']);
    expect(nbest[1].logProb).toBeCloseTo(Math.log(0.5 * 0.3 * 0.9), 12);
  });

  test('stops early once every beam of every sequence has emitted the end token', async () => {
    // The end token is the most likely after every prefix.
    const logits: Logits = (s, p) => {
      const l = tableLogits(s, p);
      l[END] = 5;
      return l;
    };
    const { decoder, calls } = tableDecoder([0, 1], logits);
    const result = await beamSearch(decoder, { start: [START, START], end: END, maxLength: 50, beam: 2 });
    // Step 1: each sequence's end candidate ranks first (1 finished); step 2: both beams end (3).
    expect(calls.steps).toBe(2);
    for (const nbest of result) {
      expect(nbest.length).toBe(2);
      expect(nbest.every((h) => h.finished)).toBe(true);
    }
  });

  test('an unreachable token is never chosen, and a sequence with no possible token ends', async () => {
    const logits: Logits = (_s, p) =>
      p.length < 3 ? [-Infinity, 0, -Infinity, -Infinity] : [-Infinity, -Infinity, -Infinity, -Infinity];
    const [nbest] = await beamSearch(tableDecoder([0], logits).decoder, {
      start: [0],
      end: END,
      maxLength: 9,
      beam: 3,
    });
    expect(nbest).toEqual([]);
    const [cut] = await beamSearch(tableDecoder([0], logits).decoder, { start: [0], end: END, maxLength: 2, beam: 3 });
    expect(plain(cut)).toEqual(['1 1']);
    expect(cut[0].logProb).toBe(0);
  });

  test('bad options and bad logits are one clear error', async () => {
    const { decoder } = tableDecoder([0]);
    const base = { start: [0], end: END, maxLength: 3, beam: 2 };
    await expect(beamSearch(decoder, { ...base, beam: 0 })).rejects.toThrow(
      new ConfigError('beamSearch: beam must be a positive integer, got 0'),
    );
    await expect(beamSearch(decoder, { ...base, start: [] })).rejects.toThrow(
      'beamSearch: "start" is empty, expected one start token per sequence',
    );
    await expect(beamSearch(decoder, { ...base, maxLength: 0 })).rejects.toThrow(
      'beamSearch: maxLength must be a positive integer, got 0',
    );
    await expect(beamSearch(decoder, { ...base, end: 4 })).rejects.toThrow(
      'beamSearch: end token 4 is outside the vocabulary of 4 ids',
    );
    const bad: DecoderStep = { step: async () => new Float32Array(7), reorder: () => {} };
    await expect(greedyDecode(bad, { start: [0, 0], end: 0, maxLength: 3 })).rejects.toThrow(
      new ShapeError('greedyDecode: the decoder returned 7 logits for 2 rows, expected rows × vocab'),
    );
  });
});

describe('sampleDecode', () => {
  /** Sampling by hand: invert the CDF of tokenProbabilities (rank order) at uniformAt(seed, t). */
  function sampleByHand(source: number, opts: { temperature: number; topK?: number; seed: number }, maxLength: number) {
    const tokens: number[] = [];
    for (let t = 0; t < maxLength; t++) {
      const p = [...tokenProbabilities(tableLogits(source, [START, ...tokens]), opts)];
      const order = p
        .map((_, i) => i)
        .filter((i) => p[i] > 0)
        .sort((a, b) => p[b] - p[a] || a - b);
      let u = uniformAt(opts.seed, t);
      let id = order[order.length - 1];
      for (const i of order)
        if ((u -= p[i]) < 0) {
          id = i;
          break;
        }
      if (id === END) return plain([{ tokens: Int32Array.from(tokens), finished: true, logProb: 0, score: 0 }])[0];
      tokens.push(id);
    }
    return plain([{ tokens: Int32Array.from(tokens), finished: false, logProb: 0, score: 0 }])[0];
  }

  test('sequence b draws with seed + b, as it would alone; the draws invert the sampling CDF', async () => {
    const sources = Array.from({ length: 10 }, (_, s) => s);
    const opts = { temperature: 1.5, topK: 3, seed: 42 };
    const { decoder, calls } = tableDecoder(sources);
    const batched = await sampleDecode(decoder, { ...opts, start: sources.map(() => START), end: END, maxLength: 6 });
    expect(plain(batched)).toEqual(sources.map((s) => sampleByHand(s, { ...opts, seed: 42 + s }, 6)));
    // Sequences that ended left the batch: the rows shrank.
    expect(calls.reorders.some((r) => r.length < sources.length)).toBe(true);
    const [alone] = await sampleDecode(tableDecoder([7]).decoder, {
      ...opts,
      seed: 49,
      start: [START],
      end: END,
      maxLength: 6,
    });
    expect(plain([alone])).toEqual(plain([batched[7]]));
    // logProb is under the model's own distribution, not the tempered one.
    const lp = [...alone.tokens, ...(alone.finished ? [END] : [])].reduce(
      (acc, id, t) => acc + logSoftmax(tableLogits(7, [START, ...alone.tokens.slice(0, t)]))[id],
      0,
    );
    expect(alone.logProb).toBeCloseTo(lp, 12);
  });

  test('temperature 0 is greedy', async () => {
    const sources = [3, 5, 8];
    const o = { start: sources.map(() => START), end: END, maxLength: 7 };
    const sampled = await sampleDecode(tableDecoder(sources).decoder, { ...o, temperature: 0, seed: 9 });
    const greedy = await greedyDecode(tableDecoder(sources).decoder, o);
    expectSameHypotheses(sampled, greedy);
  });
});
