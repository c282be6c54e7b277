// Sampling and prompt chunking. The sampling distribution is checked against probabilities written
// out by hand from logits that are logs of small weights, `sample` against a brute-force inversion
// of those hand-written CDFs, and chunked prefill against one unchunked call on the char-lstm-small
// and char-gpt presets (window 128): in the framework's runtime, in onnxruntime running the graph,
// and from a stateful .onnx file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CharTokenizer,
  type Graph,
  ParamStore,
  ReferenceBackend,
  Runtime,
  uniformAt,
  PREFILL_CHUNK,
  type TokenModel,
  generate,
  prefill,
  runtimeModel,
  sampleToken as sample,
  tokenProbabilities,
} from '@ganglion/core';
import { writeOnnxFile } from '@ganglion/backend-onnx/node';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VOCAB_METADATA_KEY, loadOnnxFile, runnerModel } from './onnx-models.js';
import { PRESETS, buildModel } from './presets.js';

// Weights 1, 4, 2, 3: softmax(logits / T) is proportional to weight^(1/T).
const LOGITS = [Math.log(1), Math.log(4), Math.log(2), Math.log(3)];
const S2 = Math.SQRT2;
const S3 = Math.sqrt(3);

const CASES: { name: string; opts: { temperature: number; topK?: number; topP?: number }; expected: number[] }[] = [
  { name: 'temperature 1: the softmax', opts: { temperature: 1 }, expected: [0.1, 0.4, 0.2, 0.3] },
  {
    name: 'temperature 0.5 sharpens (weights squared)',
    opts: { temperature: 0.5 },
    expected: [1 / 30, 16 / 30, 4 / 30, 9 / 30],
  },
  {
    name: 'temperature 2 flattens (square roots)',
    opts: { temperature: 2 },
    expected: [1, 2, S2, S3].map((w) => w / (3 + S2 + S3)),
  },
  { name: 'top-k 1 keeps the most likely', opts: { temperature: 1, topK: 1 }, expected: [0, 1, 0, 0] },
  { name: 'top-k 2 keeps the two most likely', opts: { temperature: 1, topK: 2 }, expected: [0, 4 / 7, 0, 3 / 7] },
  { name: 'top-k 3', opts: { temperature: 1, topK: 3 }, expected: [0, 4 / 9, 2 / 9, 3 / 9] },
  { name: 'top-k at the vocabulary size keeps all', opts: { temperature: 1, topK: 4 }, expected: [0.1, 0.4, 0.2, 0.3] },
  { name: 'top-p 0.35: 0.4 alone reaches it', opts: { temperature: 1, topP: 0.35 }, expected: [0, 1, 0, 0] },
  { name: 'top-p 0.5: 0.4 + 0.3', opts: { temperature: 1, topP: 0.5 }, expected: [0, 4 / 7, 0, 3 / 7] },
  { name: 'top-p 0.75: 0.4 + 0.3 + 0.2', opts: { temperature: 1, topP: 0.75 }, expected: [0, 4 / 9, 2 / 9, 3 / 9] },
  { name: 'top-p 0.95 keeps all', opts: { temperature: 1, topP: 0.95 }, expected: [0.1, 0.4, 0.2, 0.3] },
  // T 0.5: 1, 16, 4, 9 (/30); top-k 3: 16, 9, 4 (/29); top-p 0.6: 16/29 < 0.6 <= 25/29, so 16, 9 (/25).
  {
    name: 'temperature, top-k and top-p together',
    opts: { temperature: 0.5, topK: 3, topP: 0.6 },
    expected: [0, 16 / 25, 0, 9 / 25],
  },
  // T 2: 1, 2, 1.41, 1.73 (/6.15); top-p 0.5: 2/6.15 = 0.33 < 0.5 <= (2 + 1.73)/6.15 = 0.61.
  {
    name: 'temperature 2 with top-p 0.5',
    opts: { temperature: 2, topP: 0.5 },
    expected: [0, 2 / (2 + S3), 0, S3 / (2 + S3)],
  },
  { name: 'temperature 0 is greedy', opts: { temperature: 0, topK: 3, topP: 0.5 }, expected: [0, 1, 0, 0] },
];

describe('tokenProbabilities', () => {
  test.each(CASES)('$name', ({ opts, expected }) => {
    const p = tokenProbabilities(LOGITS, opts);
    expect(p.length).toBe(4);
    for (let i = 0; i < 4; i++) expect(p[i]).toBeCloseTo(expected[i], 12);
  });

  test('ties: top-k and greedy keep the lower ids', () => {
    expect([...tokenProbabilities([2, 2, 2, 1], { temperature: 1, topK: 2 })]).toEqual([0.5, 0.5, 0, 0]);
    expect([...tokenProbabilities([0, 3, 3, 1], { temperature: 0 })]).toEqual([0, 1, 0, 0]);
  });
});

/** The id whose interval holds u, the intervals of `p` laid end to end from the most likely id (ties: lower id). */
function invertCdf(p: readonly number[], u: number): number {
  const order = p
    .map((_, i) => i)
    .filter((i) => p[i] > 0)
    .sort((a, b) => p[b] - p[a] || a - b);
  let acc = 0;
  for (const i of order) {
    acc += p[i];
    if (u < acc) return i;
  }
  return order[order.length - 1];
}

describe('sample', () => {
  const DRAWS = 4000;
  test.each(CASES)('$name: each uniform draw picks the id its CDF interval names', ({ opts, expected }) => {
    const seed = 11;
    const counts = [0, 0, 0, 0];
    const wrong: string[] = [];
    for (let d = 0; d < DRAWS; d++) {
      const id = sample(LOGITS, { ...opts, seed }, d);
      const u = uniformAt(seed, d);
      if (opts.temperature > 0 && id !== invertCdf(expected, u))
        wrong.push(`draw ${d}: u ${u} gave ${id}, expected ${invertCdf(expected, u)}`);
      counts[id]++;
    }
    expect(wrong.slice(0, 3)).toEqual([]);
    // The frequencies follow the distribution (4 standard deviations of a binomial at 4000 draws).
    for (let i = 0; i < 4; i++)
      expect(Math.abs(counts[i] / DRAWS - expected[i])).toBeLessThan(4 * Math.sqrt(0.25 / DRAWS));
  });

  test('the same seed and draw give the same id; another seed another sequence', () => {
    const ids = (seed: number) => Array.from({ length: 50 }, (_, d) => sample(LOGITS, { temperature: 1, seed }, d));
    expect(ids(3)).toEqual(ids(3));
    expect(ids(4)).not.toEqual(ids(3));
  });
});

/** A TokenModel that records its calls and returns logits favouring id (position + length) % 4. */
function recorder(): { model: TokenModel; calls: { length: number; position: number }[] } {
  const calls: { length: number; position: number }[] = [];
  return {
    calls,
    model: {
      reset: () => {},
      next: async (ids, position) => {
        calls.push({ length: ids.length, position });
        const logits = new Float32Array(4);
        logits[(position + ids.length) % 4] = 1;
        return logits;
      },
    },
  };
}

describe('generate', () => {
  test('feeds the prompt in chunks of at most PREFILL_CHUNK tokens, then one token per call', async () => {
    const tok = CharTokenizer.fromText('abcd');
    const prompt = 'abcd'.repeat(150); // 600 tokens
    const { model, calls } = recorder();
    const text = await generate(model, tok, prompt, 3, { temperature: 0, seed: 0 });
    expect(PREFILL_CHUNK).toBe(256);
    expect(calls).toEqual([
      { length: 256, position: 0 },
      { length: 256, position: 256 },
      { length: 88, position: 512 },
      { length: 1, position: 600 },
      { length: 1, position: 601 },
    ]);
    // Greedy picks (position + length) % 4 after each call: 600, 601, 602 -> ids 0, 1, 2.
    expect(text).toBe(tok.decode([0, 1, 2]));
  });
});

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const VOCAB = 20;

describe('chunked prefill equals one unchunked call', () => {
  // The runtime's streaming is the same on every backend; wasm is the quick one.
  let tfjs: TfjsBackend;
  const runtimes: Runtime[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ganglion-prefill-'));
  beforeAll(async () => {
    tfjs = await TfjsBackend.create('wasm');
  });
  afterAll(() => {
    for (const r of runtimes) r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const model = async (preset: string, where: 'runtime' | 'onnxruntime' | 'onnx file'): Promise<TokenModel> => {
    const graph: Graph = buildModel(PRESETS[preset].model, VOCAB).subgraph(['logits']);
    const params = ParamStore.initialize(graph, 5, where === 'runtime' ? tfjs : new ReferenceBackend());
    if (where === 'onnxruntime') return runnerModel(graph, params);
    if (where === 'onnx file') {
      const path = join(dir, `${preset}.onnx`);
      const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrst');
      expect(tokenizer.vocabSize).toBe(VOCAB);
      writeOnnxFile(path, graph, params, {
        inputs: { ids: ['batch', 'time'] },
        stateful: true,
        metadata: { [VOCAB_METADATA_KEY]: JSON.stringify(tokenizer.toJSON()) },
      });
      return (await loadOnnxFile(path)).model;
    }
    const runtime = new Runtime(graph, { backend: tfjs, params });
    runtimes.push(runtime);
    return runtimeModel(runtime);
  };
  // 300 tokens: past char-gpt's window of 128, so cached keys are dropped between chunks.
  const ids = Int32Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 3)) % VOCAB);

  test.each([
    ['char-lstm-small', 'runtime'],
    ['char-lstm-small', 'onnxruntime'],
    ['char-lstm-small', 'onnx file'],
    ['char-gpt', 'runtime'],
    ['char-gpt', 'onnxruntime'],
    ['char-gpt', 'onnx file'],
  ] as const)(
    '%s in %s: chunks shorter and longer than the window',
    async (preset, where) => {
      const m = await model(preset, where);
      m.reset();
      const whole = await prefill(m, ids, 0, ids.length);
      // The last token alone gives other logits: the state carried between chunks matters.
      m.reset();
      expect(maxAbsDiff(await prefill(m, ids.slice(299), 0), whole)).toBeGreaterThan(1e-3);
      // 7 and 299 leave a last chunk of 6 and 1 tokens; 50 < 128 (the window) < 129 < 256.
      for (const chunk of [1, 7, 50, 128, 129, 256, 299]) {
        if (chunk === 1 && where === 'runtime') continue; // 300 one-token waves: covered by onnxruntime
        m.reset();
        expect(maxAbsDiff(await prefill(m, ids, 0, chunk), whole), `chunk ${chunk}`).toBeLessThan(1e-5);
      }
      // And the rest of the prompt in one more call after a chunked start.
      m.reset();
      await prefill(m, ids.subarray(0, 297), 0, 100);
      expect(maxAbsDiff(await m.next(ids.slice(297), 297), whole)).toBeLessThan(1e-5);
    },
    120_000,
  );
});
