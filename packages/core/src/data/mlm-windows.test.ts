// Masked-LM windows: the layout ([CLS] stream tokens [SEP]), the masking statistics over many
// windows against BERT's recipe (15% chosen, of those 80% [MASK], 10% a random token, 10% kept),
// labels exactly at the chosen positions, specials and reserved ids never chosen, and the same
// batches for the same seed (new masks each epoch).
import { describe, expect, test } from 'vitest';
import { ReferenceBackend } from '../reference/reference-backend.js';
import { uniformValues } from '../random/prng.js';
import { DataError } from './dataset.js';
import { MLM_IGNORE, maskWindow, mlmDataset, mlmWindowCount } from './mlm-windows.js';

const VOCAB = 1004;
const specials = { cls: 1001, sep: 1002, mask: 1003 };
/** Ids 0 (say <|endoftext|>) and 1000 ([PAD]) are reserved; the stream holds 0 now and then, never 1000+. */
const reserved = [0, 1000];
const SEQ = 66;
const SPAN = SEQ - 2;

/** A stream of `n` tokens in 0..999, about 2% of them 0. */
function stream(n: number, seed = 7): Int32Array {
  return Int32Array.from(uniformValues(seed, n), (u) => (u < 0.02 ? 0 : 1 + Math.floor(((u - 0.02) / 0.98) * 999)));
}

type Rows = { ids: number[][]; labels: number[][] };

function collect(data: ReturnType<typeof mlmDataset>, epoch: number): Rows {
  const out: Rows = { ids: [], labels: [] };
  for (const b of data.batches(epoch)) {
    const [rows, len] = b.ids.shape as number[];
    const ids = b.ids.toArray();
    const labels = b.labels.toArray();
    for (let r = 0; r < rows; r++) {
      out.ids.push(ids.slice(r * len, (r + 1) * len));
      out.labels.push(labels.slice(r * len, (r + 1) * len));
    }
    b.ids.dispose();
    b.labels.dispose();
  }
  return out;
}

describe('mlmDataset', () => {
  const tokens = stream(SPAN * 2000 + 17);
  const options = {
    seqLen: SEQ,
    batchSize: 50,
    specials,
    vocabSize: VOCAB,
    reserved,
    seed: 3,
    backend: new ReferenceBackend(),
  };

  test('windows are [CLS] + the stream in order + [SEP]; the 80/10/10 split and 15% chosen, over 2000 windows', () => {
    const data = mlmDataset(tokens, options);
    expect(data.windows).toBe(2000);
    expect(mlmWindowCount(tokens.length, SEQ)).toBe(2000);
    expect(data.size).toBe(40);
    const { ids, labels } = collect(data, 0);
    expect(ids).toHaveLength(2000);
    let maskable = 0;
    let chosen = 0;
    let masked = 0;
    let kept = 0;
    let random = 0;
    let randomSum = 0;
    // Problems found, checked once at the end (an expect per token would dominate the run time).
    const wrong: string[] = [];
    ids.forEach((row, w) => {
      const original = tokens.subarray(w * SPAN, (w + 1) * SPAN);
      if (row[0] !== specials.cls || row[SEQ - 1] !== specials.sep) wrong.push(`window ${w}: no [CLS] ... [SEP]`);
      if (labels[w][0] !== MLM_IGNORE || labels[w][SEQ - 1] !== MLM_IGNORE) wrong.push(`window ${w}: special labelled`);
      const m = original.filter((t) => !reserved.includes(t)).length;
      maskable += m;
      let inWindow = 0;
      for (let i = 0; i < SPAN; i++) {
        const id = row[i + 1];
        const label = labels[w][i + 1];
        if (label === MLM_IGNORE) {
          // Not chosen: the token as it is in the stream.
          if (id !== original[i]) wrong.push(`window ${w} position ${i + 1}: unchosen token changed`);
          continue;
        }
        inWindow++;
        if (label !== original[i]) wrong.push(`window ${w} position ${i + 1}: label ${label}, token ${original[i]}`);
        if (reserved.includes(original[i])) wrong.push(`window ${w} position ${i + 1}: reserved id chosen`);
        if (id === specials.mask) masked++;
        else if (id === original[i]) kept++;
        else {
          random++;
          randomSum += id;
          // A random replacement is an ordinary token: never special, never reserved.
          if (!(id >= 1 && id <= 999)) wrong.push(`window ${w} position ${i + 1}: replacement ${id}`);
        }
      }
      // BERT's count: round(15% of the window's maskable tokens), at least one.
      if (inWindow !== Math.max(1, Math.round(0.15 * m))) wrong.push(`window ${w}: ${inWindow} chosen of ${m}`);
      chosen += inWindow;
    });
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(chosen / maskable).toBeGreaterThan(0.145);
    expect(chosen / maskable).toBeLessThan(0.155);
    // Of the chosen: 80% [MASK]; 10% kept, plus the random draws that hit the token itself (1 in 999); the rest random.
    const sd = (p: number) => Math.sqrt((p * (1 - p)) / chosen);
    expect(Math.abs(masked / chosen - 0.8)).toBeLessThan(5 * sd(0.8));
    const keptP = 0.1 + 0.1 / 999;
    expect(Math.abs(kept / chosen - keptP)).toBeLessThan(5 * sd(keptP));
    expect(Math.abs(random / chosen - (0.1 - 0.1 / 999))).toBeLessThan(5 * sd(0.1));
    // Replacements are uniform over 1..999: their mean is 500 (sd of the mean: 288 / sqrt(count)).
    expect(Math.abs(randomSum / random - 500)).toBeLessThan((5 * 288) / Math.sqrt(random));
  });

  test('the same seed gives the same batches; another epoch or seed masks anew; shuffling visits every window once', () => {
    const a = collect(mlmDataset(tokens, options), 1);
    const b = collect(mlmDataset(tokens, options), 1);
    expect(b).toEqual(a);
    const epoch2 = collect(mlmDataset(tokens, options), 2);
    expect(epoch2.labels).not.toEqual(a.labels);
    const seed4 = collect(mlmDataset(tokens, { ...options, seed: 4 }), 1);
    expect(seed4.labels).not.toEqual(a.labels);
    // Unshuffled, the windows hold the same stream tokens in every epoch (only the masks differ).
    const unmasked = (r: Rows) =>
      r.ids.map((row, w) => row.map((id, i) => (r.labels[w][i] === MLM_IGNORE ? id : r.labels[w][i])));
    expect(unmasked(epoch2)).toEqual(unmasked(a));

    // Shuffled: each epoch's windows start at one offset in 0..63 and cover windows 0..1998 of the
    // stream from there, each once, in a new order; the offset changes with the epoch.
    const where = (epoch: number) => {
      const rows = unmasked(collect(mlmDataset(tokens, { ...options, shuffle: true, dropLast: false }), epoch));
      expect(rows).toHaveLength(1999);
      const text = (from: number) => Array.from(tokens.subarray(from, from + SPAN)).join();
      // Where the first row's tokens stand in the stream gives the offset; then every row is a window from it.
      const first = rows[0].slice(1, SPAN + 1).join();
      const at = Array.from({ length: tokens.length - SPAN }, (_, p) => p).filter(
        (p) => tokens[p] === rows[0][1] && text(p) === first,
      );
      expect(at).toHaveLength(1);
      const offset = at[0] % SPAN;
      const windowOf = new Map(Array.from({ length: 1999 }, (_, w) => [text(offset + w * SPAN), w]));
      return { offset, starts: rows.map((row) => windowOf.get(row.slice(1, SPAN + 1).join()) ?? -1) };
    };
    const e1 = where(1);
    const e2 = where(2);
    expect(new Set([e1.offset, e2.offset]).size).toBe(2);
    for (const { starts } of [e1, e2]) {
      expect([...starts].sort((x, y) => x - y)).toEqual(Array.from({ length: 1999 }, (_, i) => i));
      expect(starts).not.toEqual([...starts].sort((x, y) => x - y));
    }
  });

  test('errors name what is wrong', () => {
    expect(() => mlmDataset(tokens.subarray(0, 100), options)).toThrow(
      /mlmDataset: 100 tokens make 1 window of 64 tokens \+ \[CLS\] and \[SEP\], fewer than one batch of 50/,
    );
    expect(() => mlmDataset(tokens, { ...options, seqLen: 2 })).toThrow(DataError);
    expect(() => mlmDataset(tokens, { ...options, specials: { ...specials, mask: VOCAB } })).toThrow(
      /the mask id must be a token id 0\.\.1003, got 1004/,
    );
    expect(() => mlmDataset(tokens, { ...options, maskRate: 0 })).toThrow(/maskRate must be in \(0, 1\]/);
  });
});

describe('maskWindow', () => {
  const o = { specials, maskRate: 0.15, maskable: (id: number) => id !== 0, replacements: Int32Array.of(5) };

  test('a window of reserved tokens has nothing to predict; a short one still predicts one token', () => {
    const none = maskWindow(Int32Array.of(0, 0, 0), o, () => 0.5);
    expect(Array.from(none.labels)).toEqual([-1, -1, -1, -1, -1]);
    expect(Array.from(none.ids)).toEqual([specials.cls, 0, 0, 0, specials.sep]);
    // Two maskable tokens: round(0.3) = 0, raised to 1. Draws: pick index 0 + floor(0.99 · 2) = 1, then u = 0.85: random.
    const draws = [0.99, 0.85, 0.3];
    const one = maskWindow(Int32Array.of(7, 0, 9), o, (i) => draws[i]);
    expect(Array.from(one.labels)).toEqual([-1, -1, -1, 9, -1]);
    expect(Array.from(one.ids)).toEqual([specials.cls, 7, 0, 5, specials.sep]);
  });
});
