// Decoding over the framework's runtime (core's generation/), on a char-LSTM and a causal
// TransformerBlock GPT from @ganglion/layers, on the reference and tfjs backends:
// - Runtime.reorderState gathers the LSTM's h/c and the KV caches {key, value, end}: the next
//   streamed logits equal a fresh, unstreamed run of the reordered prefixes.
// - beam search through `runtimeDecoder`, with a beam wide enough to keep every prefix, returns
//   every output ranked as a brute force that re-runs each prefix from scratch scores it.
// - greedy, beam search and sampling give the same tokens on both backends.
import { TfjsBackend } from '@ganglion/backend-tfjs';
import {
  type Backend,
  type Graph,
  type Hypothesis,
  ReferenceBackend,
  Runtime,
  beamSearch,
  greedyDecode,
  runtimeDecoder,
  sampleDecode,
  tensor,
  tidy,
  zeros,
} from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';
import { beforeAll, describe, expect, test } from 'vitest';

const V = 4;
const END = 3;
const MODELS: Record<string, Graph> = {
  lstm: charLstm(6, [8, 8])(V),
  gpt: gpt({ dim: 8, heads: 2, blocks: 2, context: 8, position: 'learned' })(V),
};

let backends: Record<string, Backend>;
beforeAll(async () => {
  backends = { reference: new ReferenceBackend(), tfjs: await TfjsBackend.create('cpu') };
});

/** Same seed, same initial weights on every backend. */
const runtime = (model: string, backend: string) => new Runtime(MODELS[model], { seed: 7, backend: backends[backend] });

/** The last time step's logits of unstreamed runs of `rows` (equal lengths), [rows, V]. */
function fresh(rt: Runtime, rows: number[][]): number[][] {
  return tidy(() => {
    const [n, time] = [rows.length, rows[0].length];
    const { logits } = rt.forward({
      ids: tensor(rows.flat(), [n, time], 'int32', rt.backend),
      labels: zeros([n, time], 'int32', rt.backend),
    });
    const data = logits.toArray();
    return rows.map((_, r) => data.slice((r * time + time - 1) * V, (r * time + time) * V));
  });
}

/** Stream `rows` (one wave of their tokens) at `position`; the last step's logits, [rows, V]. */
function streamed(rt: Runtime, rows: number[][], position: number): number[][] {
  return tidy(() => {
    const [n, time] = [rows.length, rows[0].length];
    const { logits } = rt.forward(
      { ids: tensor(rows.flat(), [n, time], 'int32', rt.backend), labels: zeros([n, time], 'int32', rt.backend) },
      { stream: true, position },
    );
    const data = logits.toArray();
    return rows.map((_, r) => data.slice((r * time + time - 1) * V, (r * time + time) * V));
  });
}

const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((row, i) => row.map((x, j) => Math.abs(x - b[i][j]))));
const TOLERANCE: Record<string, number> = { reference: 1e-9, tfjs: 1e-5 };

describe.each(['lstm', 'gpt'])('%s', (model) => {
  test.each(['reference', 'tfjs'])(
    'on %s, reordered state continues as a fresh run of the reordered prefixes',
    (backend) => {
      const rt = runtime(model, backend);
      const prefixes = [
        [0, 1, 2],
        [2, 2, 1],
        [1, 0, 3],
      ];
      streamed(rt, prefixes, 0);
      const order = [2, 0, 0, 1];
      rt.reorderState(order);
      const next = [[1], [3], [0], [2]];
      const rows = order.map((r, i) => [...prefixes[r], ...next[i]]);
      expect(maxDiff(streamed(rt, next, 3), fresh(rt, rows))).toBeLessThan(TOLERANCE[backend]);
      // Again, down to two rows: the caches' stream position (a scalar) is carried as it was.
      rt.reorderState([3, 1]);
      const rows2 = [3, 1].map((r, i) => [...rows[r], [2, 0][i]]);
      expect(maxDiff(streamed(rt, [[2], [0]], 4), fresh(rt, rows2))).toBeLessThan(TOLERANCE[backend]);
      rt.close();
    },
  );

  test('beam search keeping every prefix finds every output, ranked as a brute force scores it', async () => {
    const rt = runtime(model, 'reference');
    const start = 1;
    const maxLength = 3;
    const expected: Hypothesis[] = [];
    const visit = (tokens: number[], logProb: number): void => {
      const [logits] = fresh(rt, [[start, ...tokens]]);
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((a, x) => a + Math.exp(x - m), 0));
      for (let v = 0; v < V; v++) {
        const total = logProb + logits[v] - lse;
        const finished = v === END;
        const seq = finished ? tokens : [...tokens, v];
        if (finished || seq.length === maxLength)
          expected.push({ tokens: Int32Array.from(seq), finished, logProb: total, score: total });
        else visit(seq, total);
      }
    };
    visit([], 0);
    expected.sort((a, b) => b.score - a.score);
    const decoder = runtimeDecoder(rt, { feeds: { labels: zeros([1, 1], 'int32', rt.backend) } });
    const [nbest] = await beamSearch(decoder, {
      start: [start],
      end: END,
      maxLength,
      beam: V ** maxLength,
      nBest: 100,
    });
    decoder.dispose();
    expect(nbest.map((h) => [...h.tokens].join(' ') + (h.finished ? ' </s>' : ''))).toEqual(
      expected.map((h) => [...h.tokens].join(' ') + (h.finished ? ' </s>' : '')),
    );
    nbest.forEach((h, i) => expect(h.logProb).toBeCloseTo(expected[i].logProb, 9));
    rt.close();
  });

  test('greedy, beam search and sampling give the same tokens on the reference and tfjs backends', async () => {
    const start = [0, 1, 2];
    const decode = async (backend: string) => {
      const rt = runtime(model, backend);
      const run = async <T>(search: (d: ReturnType<typeof runtimeDecoder>) => Promise<T>): Promise<T> => {
        rt.resetState();
        const decoder = runtimeDecoder(rt, { feeds: { labels: zeros([start.length, 1], 'int32', rt.backend) } });
        const out = await search(decoder);
        decoder.dispose();
        return out;
      };
      const o = { start, end: END, maxLength: 6 };
      const results = {
        greedy: await run((d) => greedyDecode(d, o)),
        beam: (await run((d) => beamSearch(d, { ...o, beam: 3, lengthPenalty: 0.6 }))).flat(),
        sample: await run((d) => sampleDecode(d, { ...o, temperature: 1, seed: 5 })),
      };
      rt.close();
      return results;
    };
    const ref = await decode('reference');
    const tfjs = await decode('tfjs');
    for (const kind of ['greedy', 'beam', 'sample'] as const) {
      expect(tfjs[kind].map((h) => [...h.tokens])).toEqual(ref[kind].map((h) => [...h.tokens]));
      expect(tfjs[kind].map((h) => h.finished)).toEqual(ref[kind].map((h) => h.finished));
      tfjs[kind].forEach((h, i) => expect(Math.abs(h.score - ref[kind][i].score)).toBeLessThan(1e-4));
    }
    // Not a degenerate model: the beams differ.
    expect(new Set(ref.beam.map((h) => [...h.tokens].join())).size).toBeGreaterThan(3);
  });
});
