// `ganglion train` on the paths the demo takes, run as the built binary in a child process: the
// default backend (onnx: each update one compiled ONNX graph in onnxruntime) with its validation
// loss recomputed another way (the saved checkpoint's forward on the float64 reference backend),
// --checkpoint-every, --time-budget, and --resume (3 steps, then resumed to 6, equals 6 straight,
// so the resumed run continued the data order where it stopped; on onnx and on reference). Every
// run writes into a fresh --out folder, except the resumed one.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { folderWithCorpus, runCli } from './run-cli.js';
import { CharTokenizer, ReferenceBackend, Runtime, TOKENS, decodeSafetensors, lmDataset, lmWindowCount, loadCheckpoint } from '@ganglion/core';
import { buildContainer } from '../src/container.js';
import { textFile } from '../src/corpus.js';

const run = runCli;

type Event = Record<string, unknown> & { event: string };

/** Run `train --json` and return its events; fails the test (with stderr) unless it exits 0. */
async function train(args: string[]): Promise<Event[]> {
  const r = await run(['train', '--preset', 'char-lstm-small', '--corpus', corpus, '--batch', '4', '--seq-len', '12', '--seed', '1', '--json', ...args], dir);
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
    const tokenizer = CharTokenizer.fromJSON(loaded.meta.tokenizer);
    const valTokens = (await (await textFile(corpus)).encode(tokenizer)).validation;
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
    const order = events.filter((e) => e.event === 'batch' || e.event === 'checkpoint').map((e) => `${e.event[0]}${String(e.step)}`);
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
      for (const [name, t] of ta) for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - tb.get(name)!.data[i]));
      expect(worst, file).toBeLessThan(1e-6);
    }
  });
});
