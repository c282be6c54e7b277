// Masked-language-model windows over a token stream, as BERT pretrains: window k is
// `[CLS] t[s + k·n] .. t[s + k·n + n - 1] [SEP]` (n = seqLen - 2 stream tokens; windows do not
// overlap). In order, s = 0; shuffled, s is a seeded offset in 0..n-1, new every epoch, so over
// the epochs the windows cut the stream everywhere and a model cannot learn what comes where from
// the position in the window alone (one window fewer then fits: the count is the same every epoch).
// In each window max(1, round(rate · m)) of its m maskable tokens are chosen (rate 0.15; [CLS],
// [SEP] and the `reserved` ids are never chosen); a chosen token is replaced by [MASK] with
// probability 0.8, by a random token with 0.1, and left as it is with 0.1. `labels` holds the
// original token at the chosen positions and MLM_IGNORE everywhere else, so the loss counts only
// them (BERT's create_pretraining_data; a fixed count per window, never zero, rather than a
// coin per token, so no window has nothing to predict).
// The masks are a function of (seed, epoch, window): the same seed gives the same batches, and
// every epoch draws new masks (RoBERTa's dynamic masking); epoch 0's are fixed, which is what an
// evaluation reads (Trainer.evaluate takes batches(0)).
import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { deriveSeed, uniformAt } from '../random/prng.js';
import { type Batch, DataError, type Dataset, checkInteger, seededPermutation } from './dataset.js';
import { type TokenArray, type TokenSource, toTokenSource } from './token-source.js';

/** The label of a position the loss ignores (SoftmaxCrossEntropy's ignoreIndex in a BERT graph). */
export const MLM_IGNORE = -1;

/** The special tokens' ids. */
export interface MlmSpecialIds {
  readonly cls: number;
  readonly sep: number;
  readonly mask: number;
}

export interface MlmWindowOptions {
  /** Tokens per window, [CLS] and [SEP] included (at least 3). */
  readonly seqLen: number;
  readonly batchSize: number;
  readonly specials: MlmSpecialIds;
  /** Ids are 0..vocabSize-1; a random replacement is any of them but the specials and `reserved`. */
  readonly vocabSize: number;
  /** Ids never chosen nor drawn as replacements ([PAD], `<|endoftext|>`, `<unk>`). Default none. */
  readonly reserved?: readonly number[];
  /** The share of a window's maskable tokens chosen for prediction. Default 0.15. */
  readonly maskRate?: number;
  /** Visit windows in a seeded order from a seeded offset, both new every epoch. Default false (in order, from 0). */
  readonly shuffle?: boolean;
  /** Seed of the order and of the masks. Default 0. */
  readonly seed?: number;
  /** Drop the last batch when it is short. Default true. */
  readonly dropLast?: boolean;
  /** Backend for the tensors; default the current backend when a batch is made. */
  readonly backend?: Backend;
}

/** A dataset of masked windows, with `windows` (how many) and `size` (batches per epoch). */
export interface MlmDataset extends Dataset {
  readonly size: number;
  readonly windows: number;
  batches(epoch: number): Iterable<Batch>;
}

/**
 * Number of windows of `seqLen` tokens ([CLS] and [SEP] included) in `tokenCount` stream tokens;
 * `shuffled`: from any offset 0..seqLen-3.
 */
export function mlmWindowCount(tokenCount: number, seqLen: number, shuffled = false): number {
  const span = seqLen - 2;
  if (span < 1) return 0;
  return Math.max(0, Math.floor((tokenCount - (shuffled ? span - 1 : 0)) / span));
}

/** How window `w`'s `tokens` (the stream part, between [CLS] and [SEP]) are masked. */
export interface MaskedWindow {
  /** The window as the model reads it: [CLS], the tokens (some replaced), [SEP]. */
  readonly ids: Int32Array;
  /** The original token where chosen, MLM_IGNORE elsewhere. */
  readonly labels: Int32Array;
}

/**
 * Masks one window. `draw` is the window's uniform stream (index -> [0, 1)); `maskable(id)` says
 * whether an id may be chosen, `replacements` lists the ids a random replacement is drawn from.
 */
export function maskWindow(
  tokens: Int32Array,
  o: { specials: MlmSpecialIds; maskRate: number; maskable: (id: number) => boolean; replacements: Int32Array },
  draw: (i: number) => number,
): MaskedWindow {
  const n = tokens.length;
  const ids = new Int32Array(n + 2);
  const labels = new Int32Array(n + 2).fill(MLM_IGNORE);
  ids[0] = o.specials.cls;
  ids[n + 1] = o.specials.sep;
  ids.set(tokens, 1);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (o.maskable(tokens[i])) candidates.push(i + 1);
  const m = candidates.length;
  const k = m === 0 ? 0 : Math.max(1, Math.min(m, Math.round(o.maskRate * m)));
  // A partial Fisher-Yates shuffle picks k of the m candidates, each subset equally likely.
  for (let j = 0; j < k; j++) {
    const r = j + Math.floor(draw(j) * (m - j));
    const t = candidates[j];
    candidates[j] = candidates[r];
    candidates[r] = t;
  }
  for (let j = 0; j < k; j++) {
    const at = candidates[j];
    labels[at] = ids[at];
    const u = draw(k + j);
    if (u < 0.8) ids[at] = o.specials.mask;
    else if (u < 0.9) ids[at] = o.replacements[Math.floor(draw(2 * k + j) * o.replacements.length)];
  }
  return { ids, labels };
}

/**
 * Masked-LM batches `{ ids, labels }`, both int32 [batchSize, seqLen] (see the file header).
 * `tokens`: an Int32Array, Uint16Array or Uint8Array of ids, or a TokenSource.
 *
 *   const data = mlmDataset(tok.encode(text), {
 *     seqLen: 128, batchSize: 16, shuffle: true, seed: 1, vocabSize: tok.vocabSize,
 *     specials: { cls: tok.specialId('[CLS]')!, sep: tok.specialId('[SEP]')!, mask: tok.specialId('[MASK]')! },
 *   });
 */
export function mlmDataset(tokens: TokenArray | TokenSource, options: MlmWindowOptions): MlmDataset {
  const source = toTokenSource(tokens, 'mlmDataset');
  const seqLen = checkInteger('mlmDataset: seqLen', options.seqLen, 3);
  const batchSize = checkInteger('mlmDataset: batchSize', options.batchSize, 1);
  const vocabSize = checkInteger('mlmDataset: vocabSize', options.vocabSize, 1);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new DataError(`mlmDataset: seed must be a finite number, got ${seed}`);
  const maskRate = options.maskRate ?? 0.15;
  if (!(maskRate > 0 && maskRate <= 1))
    throw new DataError(`mlmDataset: maskRate must be in (0, 1], got ${String(maskRate)}`);
  const { cls, sep, mask } = options.specials;
  for (const [name, id] of Object.entries({ cls, sep, mask }))
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
      throw new DataError(`mlmDataset: the ${name} id must be a token id 0..${vocabSize - 1}, got ${String(id)}`);
  const excluded = new Set([cls, sep, mask, ...(options.reserved ?? [])]);
  const replacements = Int32Array.from({ length: vocabSize }, (_, i) => i).filter((i) => !excluded.has(i));
  if (replacements.length === 0)
    throw new DataError(`mlmDataset: every id of the vocabulary of ${vocabSize} is special or reserved`);
  const masking = { specials: options.specials, maskRate, maskable: (id: number) => !excluded.has(id), replacements };
  const dropLast = options.dropLast ?? true;
  const span = seqLen - 2;
  const windows = mlmWindowCount(source.length, seqLen, options.shuffle);
  const size = dropLast ? Math.floor(windows / batchSize) : Math.ceil(windows / batchSize);
  if (size === 0) {
    throw new DataError(
      `mlmDataset: ${source.length} tokens make ${windows} window${windows === 1 ? '' : 's'} of ${span} tokens + [CLS] and [SEP], ` +
        `fewer than one batch of ${batchSize}; use more text, a smaller seqLen or batchSize${dropLast && windows > 0 ? ', or dropLast: false' : ''}`,
    );
  }

  function* batches(epoch: number): Generator<Batch> {
    checkInteger('mlmDataset: epoch', epoch, 0);
    const order = options.shuffle ? seededPermutation(windows, deriveSeed(seed, 'mlm-windows', epoch)) : null;
    const offset = options.shuffle ? Math.floor(uniformAt(deriveSeed(seed, 'mlm-offset', epoch), 0) * span) : 0;
    const window = new Int32Array(span);
    for (let b = 0; b < size; b++) {
      const rows = Math.min(batchSize, windows - b * batchSize);
      const ids = new Int32Array(rows * seqLen);
      const labels = new Int32Array(rows * seqLen);
      for (let r = 0; r < rows; r++) {
        const w = order ? order[b * batchSize + r] : b * batchSize + r;
        source.read(offset + w * span, window);
        const stream = deriveSeed(seed, 'mlm-mask', epoch, w);
        const masked = maskWindow(window, masking, (i) => uniformAt(stream, i));
        ids.set(masked.ids, r * seqLen);
        labels.set(masked.labels, r * seqLen);
      }
      yield {
        ids: tensor(ids, [rows, seqLen], 'int32', options.backend),
        labels: tensor(labels, [rows, seqLen], 'int32', options.backend),
      };
    }
  }

  return { size, windows, batches };
}
