// The encoder–decoder graphs of seq2seq-models.ts, for both architectures: the parameter names the
// header documents; the encoder graph + the decoder-step graph streamed one token per wave (state
// carried by the decoder's nodes) give the teacher-forced logits of the training graph; padded
// source tokens change nothing; padded labels (-1) leave the loss, which equals a float64
// cross-entropy of the logits over the real labels. (A reversal task trained to near-zero loss on
// tfjs, then decoded with the two halves: packages/integration/src/seq2seq-training.test.ts.)
import { describe, expect, test } from 'vitest';
import { ReferenceBackend, Runtime, type Tensor, concat, slice, tensor, withBackend } from '@ganglion/core';
import { maxRelError } from '@ganglion/core/testing';
import {
  IGNORE_LABEL,
  type Seq2SeqOptions,
  decoderStepGraph,
  encoderGraph,
  memoryWidth,
  seq2seqGraph,
  seq2seqLstm,
  seq2seqTransformer,
} from './seq2seq-models.js';

const [SRC_VOCAB, TGT_VOCAB] = [7, 9];
const transformer: Seq2SeqOptions = {
  arch: 'transformer',
  srcVocab: SRC_VOCAB,
  tgtVocab: TGT_VOCAB,
  dim: 8,
  heads: 2,
  encoderBlocks: 2,
  decoderBlocks: 2,
  hidden: 12,
};
const lstm: Seq2SeqOptions = {
  arch: 'lstm',
  srcVocab: SRC_VOCAB,
  tgtVocab: TGT_VOCAB,
  embed: 5,
  units: 6,
  encoderLayers: 2,
  decoderLayers: 2,
  score: 'general',
};
const ARCHS = [
  ['transformer', transformer],
  ['lstm (general)', lstm],
  ['lstm (additive)', { ...lstm, score: 'additive', encoderLayers: 1, decoderLayers: 1 }],
  ['lstm (dot)', { ...lstm, score: 'dot', decoderLayers: 1 }],
  ['transformer (learned positions)', { ...transformer, position: 'learned', maxLen: 8, encoderBlocks: 1 }],
] as const satisfies readonly (readonly [string, Seq2SeqOptions])[];

// A batch of two: the second source is padded after 3 tokens, the second target after 2.
const SRC = [3, 1, 4, 1, 5, 2, 6, 0, 0, 0];
const SRC_MASK = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
const TGT_IN = [0, 4, 5, 6, 7, 0, 8, 2, 1, 1];
const LABELS = [4, 5, 6, 7, 1, 8, 2, 1, IGNORE_LABEL, IGNORE_LABEL];
const [BATCH, SRC_TIME, TGT_TIME] = [2, 5, 5];

const ints = (v: number[], time: number) => tensor(v, [v.length / time, time], 'int32');
const feeds = (src = SRC) => ({
  src: ints(src, SRC_TIME),
  src_mask: tensor(SRC_MASK, [BATCH, SRC_TIME]),
  tgt_in: ints(TGT_IN, TGT_TIME),
  labels: ints(LABELS, TGT_TIME),
});

describe('seq2seq graphs', () => {
  test('node and parameter names are the documented ones', () => {
    withBackend(new ReferenceBackend(), () => {
      const t = new Runtime(seq2seqTransformer(transformer));
      const tk = t.params.keys();
      for (const k of [
        'src_embed.weight',
        'enc1.attn.in_proj_weight',
        'enc2.ff.out_bias',
        'enc_ln.weight',
        'tgt_embed.weight',
        'dec1.attn.in_proj_weight',
        'dec2.cross.out_proj_weight',
        'dec2.ln3.bias',
        'dec_ln.bias',
        'head.kernel',
      ])
        expect(tk).toContain(k);
      expect(t.graph.nodes.map((n) => n.name)).toEqual([
        ...['src_embed', 'src_pos', 'enc1', 'enc2', 'enc_ln'],
        ...['tgt_embed', 'tgt_pos', 'dec1', 'dec2', 'dec_ln', 'head', 'loss'],
      ]);
      const l = new Runtime(seq2seqLstm(lstm));
      expect(l.graph.nodes.map((n) => n.name)).toEqual([
        ...['src_embed', 'enc1', 'enc2'],
        ...['tgt_embed', 'dec1', 'dec2', 'attn', 'attn_concat', 'attn_out', 'head', 'loss'],
      ]);
      expect(l.params.get('enc1.weight_ih_reverse').shape).toEqual([4 * 3, 5]);
      expect(l.params.get('attn.weight').shape).toEqual([6, 6]);
      expect(l.params.get('attn_out.kernel').shape).toEqual([12, 6]);
      expect(Object.keys(encoderGraph(lstm).outputs)).toEqual(['memory']);
      expect(decoderStepGraph(lstm).inputs.map((i) => [i.name, i.spec.shape])).toEqual([
        ['tgt_in', ['batch', 'tgt_time']],
        ['memory', ['batch', 'src_time', memoryWidth(lstm)]],
        ['src_mask', ['batch', 'src_time']],
      ]);
    });
  });

  test.each(ARCHS)(
    '%s: encoder + decoder steps, one token per wave, give the teacher-forced logits',
    (_, o: Seq2SeqOptions) => {
      withBackend(new ReferenceBackend(), () => {
        const full = new Runtime(seq2seqGraph(o), { seed: 7 });
        const want = full.forward(feeds()).logits;
        expect(want.shape).toEqual([BATCH, TGT_TIME, TGT_VOCAB]);
        const enc = new Runtime(encoderGraph(o), { params: full.params });
        const dec = new Runtime(decoderStepGraph(o), { params: full.params });
        const { src, src_mask, tgt_in } = feeds();
        const { memory } = enc.forward({ src, src_mask });
        expect(memory.shape).toEqual([BATCH, SRC_TIME, memoryWidth(o)]);
        const steps: Tensor[] = [];
        for (let t = 0; t < TGT_TIME; t++) {
          const token = slice(tgt_in, [t], [t + 1], [1]);
          steps.push(dec.forward({ tgt_in: token, memory, src_mask }, { stream: true, position: t }).logits);
        }
        expect(maxRelError(concat(steps, 1).dataSync(), want.dataSync())).toBeLessThan(1e-12);
      });
    },
  );

  test.each(ARCHS)('%s: padded source tokens do not change the logits', (_, o: Seq2SeqOptions) => {
    withBackend(new ReferenceBackend(), () => {
      const runtime = new Runtime(seq2seqGraph(o), { seed: 8 });
      const a = runtime.forward(feeds()).logits.dataSync();
      const other = SRC.map((v, i) => (SRC_MASK[i] ? v : (v + 3 + i) % SRC_VOCAB));
      expect(other).not.toEqual(SRC);
      expect(maxRelError(runtime.forward(feeds(other)).logits.dataSync(), a)).toBe(0);
      // A token that is not padding does change them.
      const real = [...SRC];
      real[1] = (real[1] + 1) % SRC_VOCAB;
      expect(maxRelError(runtime.forward(feeds(real)).logits.dataSync(), a)).toBeGreaterThan(1e-6);
    });
  });

  test.each(ARCHS)('%s: the loss is the mean cross-entropy over the real labels only', (_, o: Seq2SeqOptions) => {
    withBackend(new ReferenceBackend(), () => {
      const { logits, loss } = new Runtime(seq2seqGraph(o), { seed: 9 }).forward(feeds());
      const l = logits.dataSync();
      let sum = 0;
      let count = 0;
      LABELS.forEach((label, i) => {
        if (label === IGNORE_LABEL) return;
        const row = Array.from(l.slice(i * TGT_VOCAB, (i + 1) * TGT_VOCAB));
        const top = Math.max(...row);
        const logZ = top + Math.log(row.reduce((s, v) => s + Math.exp(v - top), 0));
        sum += logZ - row[label];
        count++;
      });
      expect(count).toBe(8);
      expect(Math.abs(loss.dataSync()[0] - sum / count)).toBeLessThan(1e-12);
    });
  });

  test('bad options are one clear line', () => {
    expect(() => seq2seqLstm({ ...lstm, units: 7 })).toThrow(/units must be an even integer .* got 7/);
    expect(() => seq2seqTransformer({ ...transformer, position: 'learned' })).toThrow(
      /maxLen must be a positive integer/,
    );
  });
});
