// `ganglion train` on the paths the demo takes, run as the built binary in a child process: the
// default backend (onnx: each update one compiled ONNX graph in onnxruntime) with its validation
// loss recomputed another way (the saved checkpoint's forward on the float64 reference backend),
// --checkpoint-every, --time-budget, and --resume (3 steps, then resumed to 6, equals 6 straight,
// so the resumed run continued the data order where it stopped; on onnx and on reference). Every
// run writes into a fresh --out folder, except the resumed one.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { folderWithCorpus, runCli } from './run-cli.js';
import { ReferenceBackend, Runtime, TOKENS, decodeSafetensors, lmDataset, lmWindowCount } from '@ganglion/core';
import { loadCheckpoint } from '@ganglion/core/node';
import { openData } from '@ganglion/text/node';
import { buildContainer, tokenizerRegistry } from '../src/container.js';

const run = runCli;

type Event = Record<string, unknown> & { event: string };

/** Run `train --json` and return its events; fails the test (with stderr) unless it exits 0. */
async function train(args: string[]): Promise<Event[]> {
  const r = await run(
    [
      'train',
      '--preset',
      'char-lstm-small',
      '--corpus',
      corpus,
      '--batch',
      '4',
      '--seq-len',
      '12',
      '--seed',
      '1',
      '--json',
      ...args,
    ],
    dir,
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Event);
}

const steps = (events: Event[], kind: string) => events.filter((e) => e.event === kind).map((e) => e.step);

let dir: string;
let corpus: string;

beforeAll(async () => {
  dir = await folderWithCorpus('ganglion-train-paths-');
  corpus = join(dir, 'corpus.txt');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ganglion train on the default backend (onnx)', () => {
  test('trains with validation, and the validation loss is the checkpoint’s loss on the held-out text', async () => {
    const events = await train(['--steps', '3', '--out', 'onnx']);
    expect(events.find((e) => e.event === 'message' && String(e.text).includes('compiled to ONNX'))).toBeDefined();
    expect(steps(events, 'batch')).toEqual([1, 2, 3]);
    const valLoss = events.find((e) => e.event === 'epoch')!.valLoss as number;
    const done = events.find((e) => e.event === 'done')!;
    expect(done.valBitsPerChar).toBeCloseTo(valLoss / Math.LN2, 12);
    const saved = events.find((e) => e.event === 'checkpoint')!.path as string;

    // The same number another way: the saved weights, the eager forward on the float64 reference
    // backend, every held-out window in one batch. (With 3 windows and --batch 4, train puts them
    // all in its one validation batch; its mean per window is then this batch's loss.)
    const backend = new ReferenceBackend();
    const container = buildContainer({ backend, lr: 1e-3 });
    const loaded = await loadCheckpoint(saved, { resolve: container.get(TOKENS.LayerResolver), backend });
    const data = await openData(join(saved, '.ganglion', 'data'), tokenizerRegistry());
    onTestFinished(() => data.close());
    const valTokens = data.validation;
    const windows = lmWindowCount(valTokens.length, 12);
    expect(windows).toBeGreaterThan(0);
    expect(windows).toBeLessThanOrEqual(4);
    const [batch] = lmDataset(valTokens, { seqLen: 12, batchSize: windows, backend }).batches(0);
    const runtime = new Runtime(loaded.graph, { params: loaded.params, backend });
    const recomputed = runtime.forward(batch).loss.item();
    expect(Math.abs(valLoss - recomputed)).toBeLessThan(1e-4);
  });

  test('--checkpoint-every 2 --steps 5 saves at steps 2, 4 and 5 (the end)', async () => {
    const events = await train(['--steps', '5', '--checkpoint-every', '2', '--out', 'every']);
    expect(steps(events, 'checkpoint')).toEqual([2, 4, 5]);
    // Each periodic save follows its step's batch, before the next one.
    const order = events
      .filter((e) => e.event === 'batch' || e.event === 'checkpoint')
      .map((e) => `${e.event[0]}${String(e.step)}`);
    expect(order).toEqual(['b1', 'b2', 'c2', 'b3', 'b4', 'c4', 'b5', 'c5']);
    const path = events.find((e) => e.event === 'checkpoint')!.path as string;
    expect(JSON.parse(await readFile(join(path, 'meta.json'), 'utf8')).step).toBe(5);
  });

  test('--time-budget 3 stops by time, validates, saves and reports done', async () => {
    const events = await train(['--time-budget', '3', '--out', 'budget']);
    const done = events.find((e) => e.event === 'done')!;
    expect(done.reason).toBe('time-budget');
    expect(done.seconds as number).toBeGreaterThanOrEqual(3);
    const batches = steps(events, 'batch');
    expect(batches.length).toBeGreaterThan(0);
    expect(done.steps).toBe(batches.at(-1));
    expect(steps(events, 'checkpoint')).toEqual([done.steps]);
    expect(events.find((e) => e.event === 'epoch')!.valLoss).toEqual(expect.any(Number));
    expect(events.at(-2)).toBe(done); // then only the loss-curve message
  });
});

describe('ganglion train --resume', () => {
  // 6 steps straight into A; 3 into B, then --resume to 6 into B. A resume that restarted the
  // epoch's data order would train steps 4-6 on batches 1-3 again and end elsewhere (by ~1e-3).
  async function straightAndResumed(backend: string): Promise<[string, string]> {
    const a = `straight-${backend}`;
    const b = `resumed-${backend}`;
    await train(['--backend', backend, '--steps', '6', '--out', a]);
    const first = await train(['--backend', backend, '--steps', '3', '--out', b]);
    expect(steps(first, 'batch')).toEqual([1, 2, 3]);
    const second = await train(['--backend', backend, '--steps', '6', '--resume', '--out', b]);
    expect(steps(second, 'batch')).toEqual([4, 5, 6]);
    const meta = async (folder: string) => JSON.parse(await readFile(join(dir, folder, 'meta.json'), 'utf8'));
    const [metaA, metaB] = [await meta(a), await meta(b)];
    expect([metaB.step, metaB.epoch, metaB.batchInEpoch]).toEqual([6, 0, 6]);
    expect([metaA.step, metaA.epoch, metaA.batchInEpoch]).toEqual([6, 0, 6]);
    return [join(dir, a), join(dir, b)];
  }
  const bytes = (folder: string, file: string) => readFile(join(folder, file));

  // On onnx every value lives in float32, the checkpoint holds exactly what onnxruntime held, and
  // steps 2-6 run the same compiled graph (optimizer slots as inputs) in both runs: bit for bit.
  test('on onnx (the default): 3 steps then --resume --steps 6 equals 6 straight, bit for bit', async () => {
    const [a, b] = await straightAndResumed('onnx');
    expect((await bytes(a, 'weights.safetensors')).equals(await bytes(b, 'weights.safetensors'))).toBe(true);
    expect((await bytes(a, 'optimizer.safetensors')).equals(await bytes(b, 'optimizer.safetensors'))).toBe(true);
  });

  // The reference backend computes in float64 but a checkpoint stores float32, so the resumed run
  // continues from weights and Adam slots rounded at step 3: the last float32 bit may differ
  // (measured: at most 2.4e-7 in a weight).
  test('on reference: 3 steps then --resume --steps 6 equals 6 straight to float32 rounding', async () => {
    const [a, b] = await straightAndResumed('reference');
    for (const file of ['weights.safetensors', 'optimizer.safetensors']) {
      const ta = decodeSafetensors(await bytes(a, file), file).tensors;
      const tb = decodeSafetensors(await bytes(b, file), file).tensors;
      expect([...tb.keys()].sort()).toEqual([...ta.keys()].sort());
      let worst = 0;
      for (const [name, t] of ta)
        for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - tb.get(name)!.data[i]));
      expect(worst, file).toBeLessThan(1e-6);
    }
  });
});

describe('ganglion train --log-grad-norms', () => {
  // Each parameter's norm comes from its ParamGrad message; their root-sum-square must be the
  // step's global gradient norm, which the trainer computes separately (and the batch event reports).
  test('prints every parameter’s gradient norm every N steps, the same on onnx and reference', async () => {
    const byBackend: Record<string, Event[]> = {};
    for (const backend of ['onnx', 'reference']) {
      const events = await train([
        '--backend',
        backend,
        '--steps',
        '4',
        '--out',
        `norms-${backend}`,
        '--log-grad-norms',
        '2',
      ]);
      const logged = events.filter((e) => e.event === 'grad-norms');
      expect(logged.map((e) => e.step)).toEqual([2, 4]);
      for (const e of logged) {
        const norms = e.norms as Record<string, number>;
        const batch = events.find((b) => b.event === 'batch' && b.step === e.step)!;
        const total = Math.sqrt(Object.values(norms).reduce((a, n) => a + n * n, 0));
        expect(
          Math.abs(total - (batch.gradNorm as number)) / (batch.gradNorm as number),
          `${backend} step ${e.step}`,
        ).toBeLessThan(1e-5);
      }
      const weights = decodeSafetensors(
        await readFile(join(dir, `norms-${backend}`, 'weights.safetensors')),
        'weights',
      ).tensors;
      expect(Object.keys(logged[0].norms as object).sort()).toEqual([...weights.keys()].sort());
      byBackend[backend] = logged;
    }
    for (const [i, e] of byBackend.onnx.entries()) {
      for (const [k, v] of Object.entries(e.norms as Record<string, number>)) {
        expect(
          Math.abs(v - (byBackend.reference[i].norms as Record<string, number>)[k]) / Math.max(v, 1e-6),
          k,
        ).toBeLessThan(1e-4);
      }
    }
  });

  test('alone it means every step; a bad N is one line and exit 2', async () => {
    const events = await train(['--backend', 'reference', '--steps', '2', '--out', 'norms-every', '--log-grad-norms']);
    expect(steps(events, 'grad-norms')).toEqual([1, 2]);
    const r = await run(['train', '--log-grad-norms', '0', '--out', 'norms-bad'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--log-grad-norms: expected a whole number >= 1, got "0"/);
  });
});

describe('ganglion train --grad-accum', () => {
  // Mean loss over a batch = the mean of its equal micro-batches' mean losses, so K micro-batches
  // summed (scaled 1/K) must give the whole batch's gradients, updates and losses.
  test('2 micro-batches train to the same losses and weights as the whole batch', async () => {
    const whole = await train(['--steps', '3', '--out', 'accum-1']);
    const accum = await train(['--steps', '3', '--out', 'accum-2', '--grad-accum', '2']);
    const losses = (events: Event[]) => events.filter((e) => e.event === 'batch').map((e) => e.loss as number);
    expect(losses(accum)).toHaveLength(3);
    for (const [i, l] of losses(whole).entries())
      expect(Math.abs(losses(accum)[i] - l), `step ${i + 1}`).toBeLessThan(1e-5);
    const a = decodeSafetensors(await readFile(join(dir, 'accum-1', 'weights.safetensors')), 'a').tensors;
    const b = decodeSafetensors(await readFile(join(dir, 'accum-2', 'weights.safetensors')), 'b').tensors;
    let worst = 0;
    for (const [name, t] of a)
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - b.get(name)!.data[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  test('a batch that does not split, or an eager backend, is one line and exit 2', async () => {
    const odd = await run(
      [
        'train',
        '--preset',
        'char-lstm-small',
        '--corpus',
        corpus,
        '--batch',
        '4',
        '--grad-accum',
        '3',
        '--out',
        'accum-odd',
      ],
      dir,
    );
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/--grad-accum: the batch of 4 does not split into 3 equal micro-batches/);
    expect(odd.stderr.trim().split('\n')).toHaveLength(1);
    const eager = await run(
      ['train', '--backend', 'reference', '--corpus', corpus, '--grad-accum', '2', '--out', 'accum-eager'],
      dir,
    );
    expect(eager.code).toBe(2);
    expect(eager.stderr).toMatch(/--grad-accum: .*use --backend onnx/);
  });
});
