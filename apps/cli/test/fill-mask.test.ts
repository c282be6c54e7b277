// The masked LM end to end, as the built binary: `train --preset bert-mini` on a tiny size, its
// validation loss recomputed from the checkpoint another way (masked windows through the eager
// forward on the float64 reference backend, the cross-entropy of the masked positions by hand),
// `fill-mask` printing K tokens per [MASK] whose probabilities match a float64 softmax of the
// checkpoint's logits, the one-line errors, and a learning check: on a small corpus of generated
// sentences ("the dog barks at the farm.") the masked loss falls well below ln(vocab) and the
// model fills in the sound an animal makes (slow: only with GANGLION_SLOW_TESTS=1).
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MLM_IGNORE, ReferenceBackend, Runtime, TOKENS, tensor } from '@ganglion/core';
import { loadCheckpoint } from '@ganglion/core/node';
import { openData } from '@ganglion/text/node';
import { buildContainer, tokenizerRegistry } from '../src/container.js';
import { mlmDatasets, mlmTokenizer } from '../src/mlm.js';
import { expectOneLineError, folderWithCorpus, runCli } from './run-cli.js';

type Event = Record<string, unknown> & { event: string };

let dir: string;

/** Run `train --json`; fails the test (with stderr) unless it exits 0. */
async function train(args: string[]): Promise<Event[]> {
  const r = await runCli(['train', '--preset', 'bert-mini', '--json', ...args], dir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Event);
}

/** A tiny BERT on the tiny corpus: windows of 8 (6 tokens of text), so the held-out text has one. */
const TINY = ['--corpus', 'corpus.txt', '--dim', '16', '--blocks', '1', '--heads', '2', '--context', '12'];
const TINY_RUN = [...TINY, '--seq-len', '8', '--batch', '4', '--steps', '3', '--seed', '1', '--out', 'bert'];

/** The checkpoint on the reference backend, with its tokenizer and the run's data folder. */
async function reference(out: string) {
  const backend = new ReferenceBackend();
  const container = buildContainer({ backend, lr: 1 });
  const checkpoint = await loadCheckpoint(join(dir, out), { resolve: container.get(TOKENS.LayerResolver), backend });
  const registry = tokenizerRegistry(container);
  const data = await openData(join(dir, out, '.ganglion', 'data'), registry);
  const runtime = new Runtime(checkpoint.graph, { params: checkpoint.params, backend });
  return { backend, checkpoint, data, runtime, tokenizer: mlmTokenizer(data.tokenizer, registry) };
}

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-fill-mask-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ganglion train --preset bert-mini, then fill-mask', () => {
  let events: Event[];
  beforeAll(async () => {
    events = await train(TINY_RUN);
  });

  test('trains a masked LM: the validation loss is the masked positions’ cross-entropy, with no bits per character', async () => {
    expect(events.some((e) => e.event === 'message' && /masked LM: 15% of each window/.test(String(e.text)))).toBe(
      true,
    );
    const done = events.find((e) => e.event === 'done')!;
    expect(done.valBitsPerChar).toBeNull();
    const meta = JSON.parse(await readFile(join(dir, 'bert', 'meta.json'), 'utf8')) as Record<string, unknown>;
    expect(meta.objective).toBe('masked-lm');

    // The same number another way: the held-out windows as train masks them (epoch 0, seed 1), the
    // saved weights' logits on the float64 reference backend, and the mean over masked positions by hand.
    const { checkpoint, data, runtime, tokenizer } = await reference('bert');
    try {
      const { validation } = mlmDatasets(
        tokenizer,
        checkpoint.graph,
        { train: data.train, validation: data.validation },
        { seqLen: 8, batchSize: 4, seed: 1 },
      );
      let sum = 0;
      let windows = 0;
      for (const batch of validation.batches(0)) {
        const logits = runtime.forward(batch).logits;
        const [rows, time, vocab] = logits.shape as number[];
        const values = logits.dataSync();
        const labels = batch.labels.toArray();
        for (let r = 0; r < rows; r++) {
          let nll = 0;
          let count = 0;
          for (let t = 0; t < time; t++) {
            const label = labels[r * time + t];
            if (label === MLM_IGNORE) continue;
            const row = Array.from(values.subarray((r * time + t) * vocab, (r * time + t + 1) * vocab));
            const max = Math.max(...row);
            nll += max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)) - row[label];
            count++;
          }
          sum += nll / count;
          windows++;
        }
      }
      expect(windows).toBeGreaterThan(0);
      // Float32 in onnxruntime against float64 here.
      expect(done.valLoss as number).toBeCloseTo(sum / windows, 4);
    } finally {
      data.close();
    }
  });

  test('fill-mask prints K tokens per [MASK], the probabilities of a softmax of the checkpoint’s logits', async () => {
    const text = 'it was the [MASK] of times, it was';
    const r = await runCli(['fill-mask', 'bert', '--text', text, '--top-k', '3', '--json'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      filled: string;
      masks: { position: number; predictions: { token: string; id: number; probability: number }[] }[];
    };
    expect(out.masks).toHaveLength(1);
    const { predictions, position } = out.masks[0];
    expect(predictions).toHaveLength(3);

    // Independently: the window [CLS] text [SEP] through the saved weights on the reference backend.
    const { backend, checkpoint, data, tokenizer } = await reference('bert');
    data.close();
    const runtime = new Runtime(checkpoint.graph.subgraph(['logits']), { params: checkpoint.params, backend });
    const ids = Array.from(tokenizer.encode(text));
    expect(ids[position]).toBe(tokenizer.specialId('[MASK]'));
    const window = [tokenizer.specialId('[CLS]')!, ...ids, tokenizer.specialId('[SEP]')!];
    const logits = runtime.forward({ ids: tensor(window, [1, window.length], 'int32', backend) }).logits.dataSync();
    const V = tokenizer.vocabSize;
    const row = Array.from(logits.subarray((position + 1) * V, (position + 2) * V));
    const z = row.reduce((a, x) => a + Math.exp(x), 0);
    const specials = ['[PAD]', '[CLS]', '[SEP]', '[MASK]', '<unk>', '<|endoftext|>'].map((t) => tokenizer.specialId(t));
    const expected = row
      .map((x, id) => ({ id, probability: Math.exp(x) / z }))
      .filter(({ id }) => !specials.includes(id))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, 3);
    expect(predictions.map((p) => p.id)).toEqual(expected.map((p) => p.id));
    predictions.forEach((p, i) => {
      expect(p.probability).toBeCloseTo(expected[i].probability, 5);
      expect(p.token).toBe(tokenizer.decode([p.id]));
    });
    expect(predictions.reduce((a, p) => a + p.probability, 0)).toBeLessThanOrEqual(1);
    expect(out.filled).toBe(tokenizer.decode(ids.map((id, i) => (i === position ? predictions[0].id : id))));

    // The text form: a heading per [MASK], then K lines "probability token".
    const plain = await runCli(['fill-mask', 'bert', '--text', '[MASK] was the [MASK]', '--top-k', '2'], dir);
    expect(plain.stderr).toBe('');
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('[MASK] 1 of 2 (token 1):');
    expect(lines[3]).toBe('[MASK] 2 of 2 (token 4):');
    for (const l of [lines[1], lines[2], lines[4], lines[5]]) expect(l).toMatch(/^ {2}0\.\d{4} {2}\S+$/);
    expect(lines[6]).toMatch(/^filled: /);
  });

  test('errors are one line: no [MASK], too long a text, a checkpoint that is not a masked LM, a char tokenizer', async () => {
    expectOneLineError(
      await runCli(['fill-mask', 'bert', '--text', 'it was the best'], dir),
      2,
      /^ganglion fill-mask: --text has no \[MASK\]: write \[MASK\] where a token is to be filled in/,
    );
    expectOneLineError(
      await runCli(['fill-mask', 'bert', '--text', `[MASK] ${'it was '.repeat(6)}`], dir),
      2,
      /^ganglion fill-mask: --text is 13 tokens; with \[CLS\] and \[SEP\] the model reads at most 12 \(10 tokens of text\)$/,
    );
    // A checkpoint whose meta.json does not say it is a masked LM (as a GPT's would not).
    await cp(join(dir, 'bert'), join(dir, 'causal'), { recursive: true });
    const meta = JSON.parse(await readFile(join(dir, 'causal', 'meta.json'), 'utf8')) as Record<string, unknown>;
    delete meta.objective;
    await writeFile(join(dir, 'causal', 'meta.json'), JSON.stringify({ ...meta, preset: 'char-gpt' }));
    expectOneLineError(
      await runCli(['fill-mask', 'causal', '--text', 'a [MASK]'], dir),
      2,
      /^ganglion fill-mask: causal is not a masked-language model \(meta\.json: preset char-gpt\); fill-mask needs a checkpoint trained with --preset bert-mini$/,
    );
    expectOneLineError(
      await runCli(['train', '--preset', 'bert-mini', '--tokenizer', 'char', '--corpus', 'corpus.txt'], dir),
      2,
      /^ganglion train: --tokenizer char: preset bert-mini needs \[CLS\], \[SEP\] and \[MASK\] tokens, which a char tokenizer cannot hold/,
    );
    const help = await runCli(['fill-mask', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: ganglion fill-mask CKPT --text TEXT \[--top-k K\]/);
  });
});

/** Sentences from a seeded generator: an animal and its sound, sometimes a place or "loudly". */
function animalSentences(count: number): string {
  const pairs = [
    ['dog', 'barks'],
    ['cat', 'meows'],
    ['cow', 'moos'],
    ['duck', 'quacks'],
    ['lion', 'roars'],
    ['sheep', 'bleats'],
    ['horse', 'neighs'],
    ['owl', 'hoots'],
  ];
  const places = ['park', 'farm', 'river', 'house', 'field', 'barn'];
  let state = 12345;
  const pick = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const [animal, sound] = pairs[pick(pairs.length)];
    const form = pick(3);
    out.push(
      form === 0
        ? `the ${animal} ${sound}.`
        : form === 1
          ? `the ${animal} ${sound} at the ${places[pick(places.length)]}.`
          : `a ${animal} ${sound} loudly.`,
    );
  }
  return out.join(' ');
}

// About 20 s alone, a minute on a busy machine: run with GANGLION_SLOW_TESTS=1.
test.runIf(process.env.GANGLION_SLOW_TESTS === '1')(
  'learning: on generated sentences the masked loss falls well below ln(vocab), and the model knows what a dog says',
  async () => {
    await writeFile(join(dir, 'animals.txt'), animalSentences(400));
    const events = await train(
      ['--corpus', 'animals.txt', '--dim', '64', '--blocks', '2', '--heads', '2', '--context', '16'].concat([
        '--batch',
        '16',
        '--lr',
        '3e-3',
        '--steps',
        '600',
        '--seed',
        '1',
        '--out',
        'animals',
      ]),
    );
    const tokenizer = JSON.parse(await readFile(join(dir, 'animals', 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number> };
    };
    const vocab = Object.keys(tokenizer.model.vocab).length;
    const valLoss = events.filter((e) => e.event === 'epoch').map((e) => e.valLoss as number);
    expect(valLoss[0]).toBeGreaterThan(0.5 * Math.log(vocab));
    expect(valLoss.at(-1)).toBeLessThan(Math.log(vocab) / 3);
    const r = await runCli(['fill-mask', 'animals', '--text', 'the dog [MASK] at the farm.', '--json'], dir);
    const top = (JSON.parse(r.stdout) as { masks: { predictions: { token: string }[] }[] }).masks[0].predictions[0];
    expect(top.token).toBe('barks');
  },
);
