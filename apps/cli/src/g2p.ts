// Grapheme-to-phoneme models (preset g2p): what a checkpoint or an exported pair of ONNX files
// records about one (its encoder–decoder options, the letter and phoneme vocabularies, the longest
// word it reads and pronunciation it writes), the checks on the words it is asked to read, and the
// translation loop shared by `translate`, `run` and the validation of `train --preset g2p`: words
// in batches, encoded once, decoded greedily (beam 1) or by beam search over a `Seq2SeqEngine`
// (the framework's runtime or onnxruntime, seq2seq-engines.ts), so every path gives the same output.
// Bad input, one line each: an empty text; a character outside the model's letters; a word longer
// than its positions (`maxSourceLength`, the longest word its training data allows) is refused,
// never truncated, since a cut word has another pronunciation.
import {
  CheckpointError,
  type DecoderStep,
  type Hypothesis,
  type Reference,
  SymbolVocab,
  beamSearch,
  BOS_ID,
  EOS_ID,
  greedyDecode,
  phonemeErrorRate,
  wordErrorRate,
} from '@ganglion/core';
import type { Seq2SeqOptions } from '@ganglion/layers';
import { UsageError } from './args.js';

/** The checkpoint meta.json field (and ONNX metadata key, as `ganglion.g2p`) holding a G2pModel. */
export const G2P_META_KEY = 'g2p';

/** What a g2p checkpoint or export records about its model. */
export interface G2pModel {
  readonly model: Seq2SeqOptions;
  readonly graphemes: SymbolVocab;
  readonly phonemes: SymbolVocab;
  /** The longest word it reads (characters; its training data's limit): longer ones are refused. */
  readonly maxSourceLength: number;
  /** The longest pronunciation it writes (phonemes): decoding stops there. */
  readonly maxTargetLength: number;
  /** Whether its phonemes carry stress digits (AH0, AH1). */
  readonly stress: boolean;
}

/** The JSON a checkpoint's meta.json (and an export's metadata) keeps of a G2pModel. */
export function g2pModelJson(m: G2pModel): Record<string, unknown> {
  return {
    model: m.model,
    graphemes: m.graphemes.toJSON(),
    phonemes: m.phonemes.toJSON(),
    maxSourceLength: m.maxSourceLength,
    maxTargetLength: m.maxTargetLength,
    stress: m.stress,
  };
}

/** Whether a checkpoint's meta is a g2p model's. */
export function isG2pMeta(meta: Readonly<Record<string, unknown>> | undefined): boolean {
  return meta?.[G2P_META_KEY] !== undefined;
}

/** A G2pModel from its JSON, checked; `where` names it in the CheckpointError (a meta.json, an .onnx file). */
export function g2pModelFrom(json: unknown, where: string): G2pModel {
  const fail = (what: string): never => {
    throw new CheckpointError(`${where}: "${G2P_META_KEY}" ${what}`);
  };
  if (json === null || typeof json !== 'object') return fail('is not an object');
  const j = json as Record<string, unknown>;
  const whole = (k: string) => {
    if (!(Number.isInteger(j[k]) && (j[k] as number) >= 1))
      fail(`.${k} must be a whole number >= 1, got ${JSON.stringify(j[k])}`);
    return j[k] as number;
  };
  const vocab = (k: string) => {
    try {
      return SymbolVocab.fromJSON(j[k], `${where}: "${G2P_META_KEY}.${k}"`);
    } catch (e) {
      throw new CheckpointError((e as Error).message);
    }
  };
  const model = j.model as Seq2SeqOptions | undefined;
  if (model === null || typeof model !== 'object' || (model.arch !== 'transformer' && model.arch !== 'lstm'))
    fail(`.model must be the options of a 'transformer' or 'lstm' encoder–decoder`);
  const graphemes = vocab('graphemes');
  const phonemes = vocab('phonemes');
  if (model!.srcVocab !== graphemes.size || model!.tgtVocab !== phonemes.size)
    fail(
      `.model reads ${model!.srcVocab} and writes ${model!.tgtVocab} symbols, but the vocabularies have ${graphemes.size} letters and ${phonemes.size} phonemes`,
    );
  return {
    model: model!,
    graphemes,
    phonemes,
    maxSourceLength: whole('maxSourceLength'),
    maxTargetLength: whole('maxTargetLength'),
    stress: j.stress === true,
  };
}

/** `a b c ... z ' - .` as a person reads an alphabet (its symbols, specials left out). */
function alphabet(v: SymbolVocab): string {
  return v.symbols.slice(3).join(' ');
}

/**
 * The words of `text` (split at whitespace, lower-cased), each checked against the model: an empty
 * text, a character outside its letters, or a word longer than its positions is a UsageError.
 *
 *   sourceWords('Ganglion neuron', m)   // ['ganglion', 'neuron']
 */
export function sourceWords(text: string, m: G2pModel, flag = '--text'): string[] {
  const words = text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0)
    throw new UsageError(`${flag} is empty: give one or more words to pronounce, e.g. ${flag} "ganglion"`);
  for (const w of words) {
    const chars = [...w];
    const unknown = m.graphemes.unknown(chars);
    if (unknown.length > 0)
      throw new UsageError(
        `${flag}: the word ${JSON.stringify(w)} has ${unknown.map((c) => JSON.stringify(c)).join(', ')}, not among the ${m.graphemes.size - 3} letters the model reads (${alphabet(m.graphemes)})`,
      );
    if (chars.length > m.maxSourceLength)
      throw new UsageError(
        `${flag}: the word ${JSON.stringify(w)} has ${chars.length} letters, but the model reads words of at most ${m.maxSourceLength} (the limit of its training data); it is refused, not truncated`,
      );
  }
  return words;
}

/** A decoder over one encoded batch, its state fresh; `dispose` frees what the batch holds. */
export interface Seq2SeqDecoder extends DecoderStep {
  dispose(): void;
}

/** Something that runs a trained encoder–decoder: the framework's runtime or onnxruntime. */
export interface Seq2SeqEngine {
  /** Encode `rows` padded sources ([rows, time] ids, mask 1 = letter, 0 = padding); a decoder over them. */
  start(src: Int32Array, mask: Float32Array, rows: number, time: number): Promise<Seq2SeqDecoder>;
  close(): Promise<void>;
}

export interface TranslateOptions {
  /** Beams kept per word; 1 is greedy decoding. */
  readonly beam: number;
  /** GNMT's length penalty alpha (beam search only). Default 0. */
  readonly lengthPenalty?: number;
  /** Words encoded and decoded at once. Default 64. */
  readonly batch?: number;
}

/**
 * The pronunciation of each word (checked by `sourceWords`), best hypothesis first, in order.
 *
 *   await translateWords(engine, m, ['ganglion'], { beam: 5 })   // [['G', 'AE', 'NG', 'G', 'L', 'IY', 'AH', 'N']]
 */
export async function translateWords(
  engine: Seq2SeqEngine,
  m: G2pModel,
  words: readonly string[],
  opts: TranslateOptions,
): Promise<string[][]> {
  const batch = opts.batch ?? 64;
  const out: string[][] = [];
  for (let at = 0; at < words.length; at += batch) {
    const chunk = words.slice(at, at + batch).map((w) => m.graphemes.encode([...w]));
    const time = Math.max(...chunk.map((c) => c.length));
    const src = new Int32Array(chunk.length * time);
    const mask = new Float32Array(chunk.length * time);
    chunk.forEach((c, r) => {
      src.set(c, r * time);
      mask.fill(1, r * time, r * time + c.length);
    });
    // Room for the longest pronunciation a word of this length plausibly has (an abbreviation
    // like "w" reads as 7 phonemes), within what the model was trained to write; plus the end.
    const maxLength = Math.min(m.maxTargetLength, 2 * time + 6) + 1;
    const decoder = await engine.start(src, mask, chunk.length, time);
    try {
      const start = new Int32Array(chunk.length).fill(BOS_ID);
      const best: Hypothesis[] =
        opts.beam <= 1
          ? await greedyDecode(decoder, { start, end: EOS_ID, maxLength })
          : (
              await beamSearch(decoder, {
                start,
                end: EOS_ID,
                maxLength,
                beam: opts.beam,
                lengthPenalty: opts.lengthPenalty ?? 0,
                nBest: 1,
              })
            ).map((h) => h[0]);
      for (const h of best) out.push(m.phonemes.decode(h.tokens));
    } finally {
      decoder.dispose();
    }
  }
  return out;
}

/** Word and phoneme error rates (fractions) of the model's pronunciations of held-out words. */
export interface ErrorRates {
  readonly wordErrorRate: number;
  readonly phonemeErrorRate: number;
  readonly words: number;
}

/**
 * Decode `entries` and score them: a word is right when its output is any of its pronunciations;
 * its phoneme errors count against the closest one (core's wordErrorRate / phonemeErrorRate).
 */
export async function errorRates(
  engine: Seq2SeqEngine,
  m: G2pModel,
  entries: readonly { readonly word: string; readonly pronunciations: readonly (readonly string[])[] }[],
  opts: TranslateOptions,
): Promise<ErrorRates> {
  const hyps = await translateWords(
    engine,
    m,
    entries.map((e) => e.word),
    opts,
  );
  const refs: Reference<string>[] = entries.map((e) => e.pronunciations.map((p) => [...p]));
  return {
    wordErrorRate: wordErrorRate(hyps, refs),
    phonemeErrorRate: phonemeErrorRate(hyps, refs),
    words: entries.length,
  };
}
