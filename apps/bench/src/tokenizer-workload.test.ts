// The tokenizer workload without its child processes: the 50 MB corpus is every @stdlib text
// corpus, repeated from its first document to at least 50 MB and says so; the targets, ratios and
// the same-ids verdict come out as computed by hand from made-up task outputs; the report shows them.
import { describe, expect, test } from 'vitest';
import { formatTokenizerReport, resultOf, sameIds, tokenizerRatios, tokenizerTargets } from './tokenizer-bench.js';
import {
  BIG_CORPUS_BYTES,
  TOKENIZER_TASKS,
  type TokenizerTaskOutput,
  assembleCorpus,
  bigCorpus,
} from './tokenizer-workload.js';

const task = (name: string) => TOKENIZER_TASKS.find((t) => t.name === name)!;

describe('tokenizer corpora', () => {
  test('parts under the target are repeated from the first document, whole documents, and the description says so', () => {
    const parts = [
      { name: 'A', documents: ['aaaa', 'é'] },
      { name: 'B', documents: ['bbbbbbb'] },
    ];
    // 4 + 2 + 7 = 13 bytes; to reach 20: 'aaaa' (17), 'é' (19), 'bbbbbbb' (26).
    const c = assembleCorpus(parts, 20);
    expect(c.documents).toEqual(['aaaa', 'é', 'bbbbbbb', 'aaaa', 'é', 'bbbbbbb']);
    expect(c.bytes).toBe(26);
    expect(c.description).toBe(
      'A 0.00 MB, B 0.00 MB; 0.00 MB in all, under 0.00 MB, so repeated from the start to 0.00 MB',
    );
    const enough = assembleCorpus(parts, 10);
    expect(enough.documents).toEqual(['aaaa', 'é', 'bbbbbbb']);
    expect(enough.description).not.toContain('repeated');
  });

  test('the 50 MB corpus is Moby-Dick, the State of the Union addresses and SpamAssassin, repeated to 50 MB', () => {
    const c = bigCorpus();
    const bytes = c.documents.reduce((n, d) => n + Buffer.byteLength(d), 0);
    expect(c.bytes).toBe(bytes);
    expect(bytes).toBeGreaterThanOrEqual(BIG_CORPUS_BYTES);
    expect(bytes - BIG_CORPUS_BYTES).toBeLessThan(Math.max(...c.documents.map((d) => Buffer.byteLength(d))));
    for (const name of ['datasets-moby-dick', 'datasets-sotu', 'datasets-spam-assassin'])
      expect(c.description).toContain(name);
    expect(c.description).toMatch(/so repeated from the start to 5\d\.\d\d MB$/);
  });
});

describe('tokenizer report', () => {
  const out = (o: Partial<TokenizerTaskOutput>): TokenizerTaskOutput => ({
    textBytes: 1_000_000,
    corpus: 'test text',
    rssBeforeKiB: 50 * 1024,
    maxRssKiB: 100 * 1024,
    ...o,
  });
  const results = [
    resultOf(task('ganglion-bpe-train-moby'), out({ trainSeconds: 0.5, vocabSize: 8192 }), 1),
    resultOf(task('ganglion-bpe-train-50mb'), out({ trainSeconds: 150, vocabSize: 8192, maxRssKiB: 900 * 1024 }), 1),
    resultOf(task('ganglion-bpe-encode'), out({ encodeSeconds: 0.05, coldSeconds: 0.2, tokens: 7, idsHash: 'ab' }), 1),
    resultOf(task('hf-tokenizers-encode'), out({ encodeSeconds: 1, coldSeconds: 1, tokens: 7, idsHash: 'ab' }), 1),
    resultOf(task('js-tiktoken-encode'), out({ encodeSeconds: 0.4, coldSeconds: 0.5, tokens: 7, idsHash: 'ab' }), 1),
  ];

  test('targets: 0.5 s <= 10 met, 150 s <= 120 not met, 900 MiB <= 1024 met, 20 MB/s >= 5 met', () => {
    expect(tokenizerTargets(results).map((t) => [t.name, t.measured, t.met])).toEqual([
      ['training, Moby-Dick', 0.5, true],
      ['training, 50 MB', 150, false],
      ['training peak RSS, 50 MB', 900, true],
      ['encoding speed, one thread', 20, true],
    ]);
  });

  test('ratios: 20 MB/s against 1 MB/s and 2.5 MB/s', () => {
    expect(tokenizerRatios(results).map((r) => r.value)).toEqual([20, 8]);
  });

  test('the same ids when every encoder has the same count and hash; otherwise each is listed', () => {
    expect(sameIds(results)).toBe('yes (7 ids each)');
    const differ = [...results.slice(0, 4), resultOf(task('js-tiktoken-encode'), out({ tokens: 8, idsHash: 'cd' }), 1)];
    expect(sameIds(differ)).toMatch(/^NO: .*js-tiktoken-encode 8 ids, hash cd/);
  });

  test('the report shows both tables, the ratios and each target with its verdict', () => {
    const text = formatTokenizerReport(results);
    expect(text).toMatch(/ganglion-bpe-train-50mb +1\.00 +150\.00 +0\.01 +8,192 +50 +900/);
    expect(text).toMatch(/ganglion-bpe-encode +Ganglion +— +5\.00 +20\.00 +7 +100/);
    expect(text).toMatch(/ganglion \/ @huggingface\/tokenizers, encoding MB\/s +20\.00x/);
    expect(text).toMatch(/training, 50 MB +150\.00 s +\[target <= 120 s: NOT met\]/);
    expect(text).toMatch(/encoding speed, one thread +20\.00 MB\/s +\[target >= 5 MB\/s: met\]/);
  });
});
