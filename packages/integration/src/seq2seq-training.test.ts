// The encoder–decoder models of @ganglion/layers learn: reversing 2..4 symbols (right-padded
// sources, so the masks matter, and padded labels the loss ignores), trained with Adam (a short
// warmup, then a linear decay) on the tfjs cpu backend to a near-zero loss on held-out sequences,
// then decoded greedily with the encoder graph and the decoder-step graph (one token per streaming
// wave), which must reverse the held-out sequences exactly.
// NOTE: slow for a unit test: about 15–25 s per architecture on an idle 2-core machine (eager
// tfjs-cpu steps of tiny tensors are dominated by per-op overhead), more under load.
import { beforeAll, describe, expect, test } from 'vitest';
import { Adam, Runtime, type Tensor, tensor, tidy, uniformAt, withBackend } from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { IGNORE_LABEL, type Seq2SeqOptions, decoderStepGraph, encoderGraph, seq2seqGraph } from '@ganglion/layers';

const SYMBOLS = 6;
const [BOS, EOS] = [0, 1]; // target ids; symbol s is source id s and target id s + 2
const LEN = 4;

/** Uniform draws in [0, 1), one after another, from a seed. */
class Draws {
  private i = 0;
  constructor(private readonly seed: number) {}
  next(): number {
    return uniformAt(this.seed, this.i++);
  }
}

/** A batch of reversal examples, right-padded: sources [b, LEN], targets [b, LEN + 1]. */
function reversalBatch(rng: Draws, batch: number) {
  const src: number[] = [];
  const mask: number[] = [];
  const tgtIn: number[] = [];
  const labels: number[] = [];
  const sources: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const n = 2 + Math.floor(rng.next() * (LEN - 1));
    const s = Array.from({ length: n }, () => Math.floor(rng.next() * SYMBOLS));
    sources.push(s);
    const r = [...s].reverse().map((v) => v + 2);
    const pad = LEN - n;
    src.push(...s, ...Array<number>(pad).fill(0));
    mask.push(...Array<number>(n).fill(1), ...Array<number>(pad).fill(0));
    tgtIn.push(BOS, ...r, ...Array<number>(pad).fill(EOS));
    labels.push(...r, EOS, ...Array<number>(pad).fill(IGNORE_LABEL));
  }
  return {
    sources,
    feeds: {
      src: tensor(src, [batch, LEN], 'int32'),
      src_mask: tensor(mask, [batch, LEN]),
      tgt_in: tensor(tgtIn, [batch, LEN + 1], 'int32'),
      labels: tensor(labels, [batch, LEN + 1], 'int32'),
    },
  };
}

/** Greedy decoding with the encoder and the decoder-step graphs: one token per wave, at most LEN + 1. */
function greedy(o: Seq2SeqOptions, trained: Runtime, src: Tensor, srcMask: Tensor): number[][] {
  const enc = new Runtime(encoderGraph(o), { params: trained.params, backend: trained.backend });
  const dec = new Runtime(decoderStepGraph(o), { params: trained.params, backend: trained.backend });
  const batch = src.shape[0] as number;
  const out: number[][] = Array.from({ length: batch }, () => []);
  const done = new Array<boolean>(batch).fill(false);
  tidy(() => {
    const { memory } = enc.forward({ src, src_mask: srcMask });
    let token = Array<number>(batch).fill(BOS);
    for (let t = 0; t <= LEN && done.includes(false); t++) {
      const l = dec
        .forward(
          { tgt_in: tensor(token, [batch, 1], 'int32'), memory, src_mask: srcMask },
          { stream: true, position: t },
        )
        .logits.dataSync();
      token = token.map((_, b) => {
        const row = Array.from(l.slice(b * o.tgtVocab, (b + 1) * o.tgtVocab));
        return row.indexOf(Math.max(...row));
      });
      token.forEach((v, b) => {
        if (done[b]) return;
        if (v === EOS) done[b] = true;
        else out[b].push(v - 2);
      });
    }
  });
  enc.close();
  dec.close();
  return out;
}

let backend: TfjsBackend;
beforeAll(async () => {
  backend = await TfjsBackend.create('cpu');
});

describe('seq2seq models learn to reverse a sequence (tfjs cpu)', () => {
  const vocab = { srcVocab: SYMBOLS, tgtVocab: SYMBOLS + 2 };
  test.each([
    [
      'transformer',
      { arch: 'transformer', ...vocab, dim: 32, heads: 2, encoderBlocks: 1, decoderBlocks: 1, hidden: 64 },
      160,
      1e-2,
    ],
    ['lstm with general attention', { arch: 'lstm', ...vocab, embed: 16, units: 32, score: 'general' }, 150, 3e-2],
  ] as const)(
    '%s',
    (_, o: Seq2SeqOptions, steps: number, lr: number) => {
      withBackend(backend, () => {
        const runtime = new Runtime(seq2seqGraph(o), { seed: 1, backend });
        const adam = new Adam({ betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
        const rng = new Draws(2);
        const started = Date.now();
        for (let step = 0; step < steps; step++) {
          const rate = lr * Math.min(1, (step + 1) / 10) * (1 - step / steps);
          tidy(() =>
            adam.step(
              runtime.params,
              runtime.trainStep(reversalBatch(rng, 64).feeds, { loss: 'loss' }).paramGrads,
              rate,
            ),
          );
        }
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        const held = reversalBatch(new Draws(99), 32);
        const loss = tidy(() => runtime.forward(held.feeds).loss.dataSync()[0]);
        expect(loss, `held-out loss after ${steps} steps (${seconds} s)`).toBeLessThan(0.05);
        expect(greedy(o, runtime, held.feeds.src, held.feeds.src_mask)).toEqual(
          held.sources.map((s) => [...s].reverse()),
        );
        runtime.close();
      });
    },
    180_000,
  );
});
