// The tasks of the `tokenizer` workload, as each child process runs one (child.ts, argv NAME
// tokenizer): train Ganglion's byte-level BPE, or load GPT-2's vocabulary into one library and
// encode Moby-Dick with it, timing a first pass and then the median of the passes after it. The
// libraries are imported inside the task, so each process loads only its own.
// GPT-2's tokenizer.json comes from @ganglion/text/testing (built from js-tiktoken's ranks).
import type { Tokenizer } from '@ganglion/core';
import {
  ENCODE_PASSES,
  TOKENIZER_VOCAB,
  type TokenizerTaskOutput,
  bigCorpus,
  megabytes,
  mobyDickChapters,
} from './tokenizer-workload.js';

export type TokenizerChildMessage =
  { readonly ok: true; readonly output: TokenizerTaskOutput } | { readonly ok: false; readonly error: string };

const kib = () => process.memoryUsage().rss / 1024;
const collect = () => (globalThis as { gc?: () => void }).gc?.();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** FNV-1a over the ids: equal hashes (and counts) mean the libraries gave the same ids. */
function hashIds(ids: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) {
    h ^= ids[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

async function train(which: 'moby' | '50mb'): Promise<TokenizerTaskOutput> {
  const { bpeTokenizer } = await import('@ganglion/text');
  const corpus =
    which === 'moby'
      ? (() => {
          const documents = mobyDickChapters();
          const bytes = documents.reduce((n, d) => n + Buffer.byteLength(d), 0);
          return { documents, bytes, description: `Moby-Dick, ${megabytes(bytes)}` };
        })()
      : bigCorpus();
  // Each document is dropped once fed, as `prepare` reads a corpus from disk a piece at a time.
  const documents = [...corpus.documents];
  const bytes = corpus.bytes;
  collect();
  const rssBeforeKiB = kib();
  const t0 = performance.now();
  const trainer = bpeTokenizer.trainer!(String(TOKENIZER_VOCAB));
  for (let i = 0; i < documents.length; i++) {
    if (i > 0) trainer.add('\n\n');
    trainer.add(documents[i]);
    documents[i] = '';
  }
  const tok = trainer.finish();
  const trainSeconds = (performance.now() - t0) / 1000;
  return {
    trainSeconds,
    vocabSize: tok.vocabSize,
    textBytes: bytes,
    corpus: corpus.description,
    rssBeforeKiB,
    notes: [`documents joined by a blank line, fed one at a time; the whole corpus is in memory before training`],
  };
}

interface Encoder {
  encode(text: string): ArrayLike<number>;
}

async function encode(library: 'ganglion' | 'hf' | 'tiktoken'): Promise<TokenizerTaskOutput> {
  const text = mobyDickChapters().join('\n\n');
  const textBytes = Buffer.byteLength(text);
  let load: () => Encoder;
  if (library === 'tiktoken') {
    const { Tiktoken } = await import('js-tiktoken/lite');
    const { default: r50k } = await import('js-tiktoken/ranks/r50k_base');
    load = () => new Tiktoken(r50k);
  } else {
    const { gpt2TokenizerJSON } = await import('@ganglion/text/testing');
    // Built from the ranks and written out as a tokenizer.json file is, so both read the same text.
    const file = JSON.stringify(gpt2TokenizerJSON());
    if (library === 'ganglion') {
      const { bpeTokenizer } = await import('@ganglion/text');
      load = () => bpeTokenizer.fromJSON(JSON.parse(file)) as Tokenizer;
    } else {
      const { Tokenizer: HfLibrary } = await import('@huggingface/tokenizers');
      load = () => {
        const lib = new HfLibrary(JSON.parse(file), {});
        return { encode: (t: string) => lib.encode(t, { add_special_tokens: false }).ids };
      };
    }
  }
  collect();
  const rssBeforeKiB = kib();
  let t0 = performance.now();
  const encoder = load();
  const loadSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const ids = encoder.encode(text);
  const coldSeconds = (performance.now() - t0) / 1000;
  const passes: number[] = [];
  for (let i = 0; i < ENCODE_PASSES; i++) {
    t0 = performance.now();
    encoder.encode(text);
    passes.push((performance.now() - t0) / 1000);
  }
  return {
    loadSeconds,
    coldSeconds,
    encodeSeconds: median(passes),
    tokens: ids.length,
    idsHash: hashIds(ids),
    textBytes,
    corpus: `Moby-Dick, ${megabytes(textBytes)}, as one string`,
    rssBeforeKiB,
    notes:
      library === 'tiktoken'
        ? ['reads its own r50k_base ranks (load s: building its maps from them)']
        : ['load s: reading the tokenizer.json text (JSON.parse included)'],
  };
}

const RUNS: Readonly<Record<string, () => Promise<TokenizerTaskOutput>>> = {
  'ganglion-bpe-train-moby': () => train('moby'),
  'ganglion-bpe-train-50mb': () => train('50mb'),
  'ganglion-bpe-encode': () => encode('ganglion'),
  'hf-tokenizers-encode': () => encode('hf'),
  'js-tiktoken-encode': () => encode('tiktoken'),
};

/** Runs one task in this process and reports it with the process's peak resident set. */
export async function runTokenizerTask(name: string): Promise<TokenizerChildMessage> {
  try {
    const run = RUNS[name];
    if (!run) throw new Error(`no tokenizer task named "${name}"`);
    const output = await run();
    // resourceUsage().maxRSS: this process's peak resident set in KiB.
    return { ok: true, output: { ...output, maxRssKiB: process.resourceUsage().maxRSS } };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}
