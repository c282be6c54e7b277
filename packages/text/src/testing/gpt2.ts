// GPT-2's tokenizer.json, built from the ranks js-tiktoken ships for r50k_base (the GPT-2
// vocabulary), for tests and the benchmark: nothing is downloaded. A tiktoken vocabulary has ranks
// but no merges; they are derived as Hugging Face's tiktoken converter derives them: each token of
// two or more bytes is run through BPE over its own bytes with only the tokens ranked below it,
// and the two parts that leaves are its merge. Token ids are the ranks; `<|endoftext|>` is 50256.
import r50k from 'js-tiktoken/ranks/r50k_base';
import { BYTE_TO_CHAR } from '../byte-level.js';

/** A tiktoken vocabulary: token bytes (as a string of char codes 0-255) -> rank. */
type TiktokenRanks = ReadonlyMap<string, number>;

/** The ranks of js-tiktoken's r50k_base (its `bpe_ranks` lines are `! OFFSET BASE64...`). */
function r50kRanks(): TiktokenRanks {
  const ranks = new Map<string, number>();
  for (const line of r50k.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, offset, ...tokens] = line.split(' ');
    tokens.forEach((t, i) => ranks.set(atob(t), Number(offset) + i));
  }
  return ranks;
}

const symbols = (bytes: string): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes.charCodeAt(i)];
  return s;
};

/** BPE over `bytes` with the tokens ranked below `maxRank`: the parts it ends with. */
function partsBelow(ranks: TiktokenRanks, bytes: string, maxRank: number): string[] {
  const parts = [...bytes];
  for (;;) {
    let best = -1;
    let bestRank = maxRank;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(parts[i] + parts[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return parts;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
}

/** A Hugging Face tokenizer.json for a tiktoken vocabulary with GPT-2's pre-tokenizer. */
function tiktokenToTokenizerJSON(ranks: TiktokenRanks, specials: Readonly<Record<string, number>>): object {
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const merges: [number, string][] = [];
  for (const [bytes, rank] of ranks) {
    vocab[symbols(bytes)] = rank;
    if (bytes.length < 2) continue;
    const parts = partsBelow(ranks, bytes, rank);
    if (parts.length !== 2)
      throw new Error(`token ${JSON.stringify(bytes)} (rank ${rank}) has no merge below its rank`);
    merges.push([rank, `${symbols(parts[0])} ${symbols(parts[1])}`]);
  }
  merges.sort((a, b) => a[0] - b[0]);
  for (const [content, id] of Object.entries(specials)) vocab[content] = id;
  // The set-up of GPT-2's tokenizer.json on the Hugging Face hub.
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: Object.entries(specials).map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      vocab,
      merges: merges.map(([, m]) => m),
    },
  };
}

let cached: object | undefined;

/** GPT-2's tokenizer.json (50,257 tokens, 50,000 merges), built once per process. */
export function gpt2TokenizerJSON(): object {
  cached ??= tiktokenToTokenizerJSON(r50kRanks(), r50k.special_tokens);
  return cached;
}
