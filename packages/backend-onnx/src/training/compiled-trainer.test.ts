// The compiled training step against the eager path: the same graph, seed, optimizer, clipping
// and schedule trained for 50 steps by Trainer.trainStep on tfjs (cpu) and by CompiledTrainer on
// onnxruntime give the same losses step by step and the same final weights (float32 tolerance).
// Also: the optimizer state round trip, the first-step graph, errors, the rewrite on vs off, and
// the non-finite stop on a finite loss whose gradient is infinite or NaN.
import {
  type Graph,
  GraphBuilder,
  ParamStore,
  ReferenceBackend,
  Runtime,
  type Tensor,
  type Trainer,
  TrainingError,
  type TrainEvent,
  createTrainer,
  dispose,
  keep,
  tensor,
} from '@ganglion/core';
import { RootOfGap } from '@ganglion/core/testing';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { Dense, Dropout, Embedding, GRU, LSTM, MSE, SoftmaxCrossEntropy, gpt } from '@ganglion/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import { CompiledTrainer, compileTrainStep } from './compiled-trainer.js';

let tfjs: TfjsBackend;
beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
});

const V = 20;
const B = 4;
const T = 8;

/** Embedding 8 -> one recurrent layer of 16 -> Dense vocab, with a cross-entropy loss. */
function charModel(cell: 'lstm' | 'gru'): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const e = g.node('embed', new Embedding({ vocabSize: V, dim: 8 }), ids);
  const h = g.node(`${cell}1`, cell === 'lstm' ? new LSTM({ units: 16 }) : new GRU({ units: 16 }), e);
  const logits = g.node('head', new Dense({ units: V }), h);
  g.output('logits', logits);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

/** Five fixed batches, cycled: next-token labels of a deterministic token stream. */
function batches(): { ids: Tensor; labels: Tensor }[] {
  return Array.from({ length: 5 }, (_, k) => {
    const ids = Array.from({ length: B * T }, (_, i) => (i * 7 + k * 3 + ((i * i) % 5)) % V);
    const labels = ids.map((_, i) => ids[(i + 1) % ids.length]);
    return { ids: keep(tensor(ids, [B, T], 'int32', tfjs)), labels: keep(tensor(labels, [B, T], 'int32', tfjs)) };
  });
}

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);

/** Three steps of `fast` (rewritten graphs) and `plain` give the same losses and weights within 1e-6; both disposed. */
async function expectSameSteps(
  fast: CompiledTrainer,
  plain: CompiledTrainer,
  data: readonly { ids: Tensor; labels: Tensor }[],
): Promise<void> {
  for (let s = 0; s < 3; s++) {
    const a = await fast.step(data[s]);
    const b = await plain.step(data[s]);
    expect(relDiff(a.loss, b.loss)).toBeLessThan(1e-6);
  }
  const [wa, wb] = [fast.paramStore(tfjs), plain.paramStore(tfjs)];
  for (const [key, t] of wa.entries()) expect(maxAbsDiff(t.dataSync(), wb.get(key).dataSync()), key).toBeLessThan(1e-6);
  wa.dispose();
  wb.dispose();
  await fast.dispose();
  await plain.dispose();
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Case {
  readonly name: string;
  readonly cell: 'lstm' | 'gru';
  readonly trainer: () => Trainer;
}

const cases: Case[] = [
  {
    name: 'LSTM, Adam, global-norm clipping, cosine schedule with warm-up',
    cell: 'lstm',
    trainer: () =>
      createTrainer({
        optimizer: 'adam',
        lr: 1e-2,
        clipping: 'global-norm',
        clippingOptions: { maxNorm: 0.2 },
        schedule: 'cosine',
        scheduleOptions: { totalSteps: 50, warmupSteps: 5 },
      }),
  },
  {
    name: 'LSTM, SGD with momentum, clipping by value, step decay',
    cell: 'lstm',
    trainer: () =>
      createTrainer({
        optimizer: 'sgd',
        optimizerOptions: { momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 },
        lr: 0.5,
        clipping: 'value',
        clippingOptions: { clipValue: 0.05 },
        schedule: 'step',
        scheduleOptions: { stepSize: 20, gamma: 0.5 },
      }),
  },
  {
    name: 'GRU, Adam, global-norm clipping, cosine schedule',
    cell: 'gru',
    trainer: () =>
      createTrainer({
        optimizer: 'adam',
        lr: 1e-2,
        clipping: 'global-norm',
        clippingOptions: { maxNorm: 0.2 },
        schedule: 'cosine',
        scheduleOptions: { totalSteps: 50 },
      }),
  },
];

describe('CompiledTrainer equals the eager tfjs training loop', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: 50 steps', async (_, c) => {
    const graph = charModel(c.cell);
    const data = batches();
    const eagerTrainer = c.trainer();
    const eager = new Runtime(graph, { seed: 7, backend: tfjs });
    const start = new Runtime(graph, { seed: 7, backend: tfjs });
    const compiledTrainer = c.trainer();
    const compiled = compileTrainStep(start, compiledTrainer);
    let worstLoss = 0;
    let worstNorm = 0;
    for (let s = 0; s < 50; s++) {
      const batch = data[s % data.length];
      const a = eagerTrainer.trainStep(eager, batch);
      const b = await compiled.step(batch);
      expect(b.step).toBe(a.step);
      expect(b.lr).toBe(a.lr);
      worstLoss = Math.max(worstLoss, relDiff(a.loss, b.loss));
      worstNorm = Math.max(worstNorm, relDiff(a.gradNorm, b.gradNorm));
      expect(relDiff(a.loss, b.loss), `loss at step ${s + 1}: eager ${a.loss}, compiled ${b.loss}`).toBeLessThan(1e-4);
    }
    expect(worstNorm).toBeLessThan(1e-3);
    const weights = compiled.paramStore(tfjs);
    let worstWeight = 0;
    for (const [key, t] of weights.entries())
      worstWeight = Math.max(worstWeight, maxAbsDiff(t.dataSync(), eager.params.get(key).dataSync()));
    expect(worstWeight).toBeLessThan(1e-4);
    console.log(
      `${c.name}: max relative loss difference ${worstLoss.toExponential(2)}, gradient norm ${worstNorm.toExponential(2)}; max weight difference ${worstWeight.toExponential(2)}`,
    );
    weights.dispose();
    await compiled.dispose();
    eager.close();
    start.close();
  });
});

describe('CompiledTrainer', () => {
  it('hands its weights and optimizer state back: the eager loop continues exactly where it left off', async () => {
    const graph = charModel('lstm');
    const data = batches();
    const make = () =>
      createTrainer({ optimizer: 'adamw', lr: 5e-3, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } });
    const runtime = new Runtime(graph, { seed: 3, backend: tfjs });
    const trainer = make();
    const compiled = compileTrainStep(runtime, trainer);
    for (let s = 0; s < 6; s++) await compiled.step(data[s % 5]);
    expect(compiled.sessionCount).toBe(1); // the first step's graph (no slots yet) was released
    const state = compiled.optimizerState(tfjs);
    expect(state.name).toBe('adamw');
    expect(state.meta.step).toBe(6);
    expect([...state.tensors.keys()]).toContain('lstm1.weight_hh.exp_avg_sq');
    dispose([...state.tensors.values()]);

    // A second compiled trainer resumed from the synced trainer, and the eager trainer itself,
    // take the same seventh step as the first compiled trainer.
    compiled.syncTo(runtime.params, trainer);
    expect(trainer.step).toBe(6);
    const resumed = compileTrainStep(runtime, trainer);
    const next = await compiled.step(data[6 % 5]);
    const viaResumed = await resumed.step(data[6 % 5]);
    const viaEager = trainer.trainStep(runtime, data[6 % 5]);
    expect(viaResumed.step).toBe(7);
    expect(viaResumed.loss).toBe(next.loss);
    expect(relDiff(viaEager.loss, next.loss)).toBeLessThan(1e-5);
    const after = compiled.paramStore(tfjs);
    for (const [key, t] of after.entries())
      expect(maxAbsDiff(t.dataSync(), runtime.params.get(key).dataSync())).toBeLessThan(1e-5);
    after.dispose();
    await compiled.dispose();
    await resumed.dispose();
    runtime.close();
  });

  it('rewrites the per-step gradient sums, and gets what the plain traced step gets', async () => {
    const graph = charModel('lstm');
    const params = ParamStore.initialize(graph, 1, tfjs);
    const data = batches();
    const make = (rewrite: boolean) =>
      new CompiledTrainer(graph, params, createTrainer({ optimizer: 'adam', lr: 1e-2 }), { rewrite });
    const fast = make(true);
    const plain = make(false);
    const model = await fast.prepare(data[0]);
    expect(fast.sessionCount).toBe(2); // the first step's graph and the steady-state one
    // The tape already joins the gradients of the time slices and gate slices with Concats (no
    // Pad is left to rewrite), and MatMul's VJP already takes the LSTM's input weight and the
    // head's kernel gradients as one product over batch × time rows. What is left: the recurrent
    // weight's per-step products, summed, become one Gemm.
    expect(model.rewrites).toMatchObject({ matMulSums: 1, matMulLeaves: T, scatterSums: 0 });
    const plainModel = await plain.prepare(data[0]);
    expect(plainModel.rewrites.matMulSums).toBe(0);
    expect(onnx.ModelProto.decode(plainModel.bytes).graph!.node!.filter((n) => n.opType === 'Pad')).toEqual([]);
    await expectSameSteps(fast, plain, data);
  });

  it("a tied head's weight gradient is one scatter onto the head's product, and the step is the plain step", async () => {
    const graph = gpt({ dim: 16, heads: 2, blocks: 1, context: T, position: 'learned' })(V);
    const params = ParamStore.initialize(graph, 1, tfjs);
    const data = batches();
    // SGD, not Adam: Adam's g/√v turns the rounding noise of a gradient that is zero in exact
    // arithmetic (the key bias's) into whole steps of ±lr.
    const make = (rewrite: boolean) =>
      new CompiledTrainer(graph, params, createTrainer({ optimizer: 'sgd', lr: 0.1 }), { rewrite });
    const fast = make(true);
    const plain = make(false);
    const model = await fast.prepare(data[0]);
    expect(model.rewrites.scatterSums).toBe(1); // embed.weight: the Gather's scatter plus the head's product
    const scatters = (bytes: Uint8Array) =>
      onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.opType === 'ScatterND').length;
    expect(scatters(model.bytes)).toBe(scatters((await plain.prepare(data[0])).bytes));
    await expectSameSteps(fast, plain, data);
  });

  it('frozen parameters: no gradient, no optimizer slots, no new value in the traced step; the eager loop agrees', async () => {
    const graph = charModel('lstm').freeze((key) => key.startsWith('embed.') || key.startsWith('lstm1.'));
    const params = ParamStore.initialize(graph, 2, tfjs);
    const data = batches();
    const make = () => createTrainer({ optimizer: 'adamw', lr: 1e-2 });
    const compiled = new CompiledTrainer(graph, params, make());
    await compiled.step(data[0]);
    const model = await compiled.prepare(data[1]);
    const trainable = params.trainableKeys();
    expect(trainable.sort()).toEqual(['head.bias', 'head.kernel']);
    expect(model.grads.map((g) => g.key).sort()).toEqual([]); // fused: gradients stay inside
    expect(
      model.params
        .filter((p) => p.output)
        .map((p) => p.key)
        .sort(),
    ).toEqual(trainable);
    expect(new Set(model.slotsIn.map((s) => s.name.split('.').slice(0, 2).join('.')))).toEqual(new Set(trainable));
    const gradientsModel = onnx.ModelProto.decode(model.bytes).graph!.output!.map((o) => o.name);
    expect(gradientsModel.some((n) => n!.includes('lstm1'))).toBe(false);
    // The same two steps on the eager path: the same losses; the frozen weights never move.
    const runtime = new Runtime(graph, { seed: 2, backend: tfjs });
    const eager = make();
    const before = new Map(runtime.params.entries().map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
    const a = [eager.trainStep(runtime, data[0]).loss, eager.trainStep(runtime, data[1]).loss];
    const b = (await compiled.step(data[1])).loss;
    expect(relDiff(a[1], b)).toBeLessThan(1e-4);
    const after = compiled.paramStore(tfjs);
    for (const key of params.keys()) {
      const moved = maxAbsDiff(after.get(key).dataSync(), before.get(key)!) > 0;
      expect(moved, key).toBe(trainable.includes(key));
      expect(maxAbsDiff(runtime.params.get(key).dataSync(), before.get(key)!) > 0, key).toBe(trainable.includes(key));
    }
    expect(compiled.optimizerState(tfjs).tensors.size).toBe(2 * trainable.length);
    after.dispose();
    await compiled.dispose();
  });

  it('traces once per input signature', async () => {
    const graph = charModel('lstm');
    const compiled = new CompiledTrainer(
      graph,
      ParamStore.initialize(graph, 1, tfjs),
      createTrainer({ optimizer: 'sgd', lr: 0.1 }),
    );
    const feeds = (b: number) => ({
      ids: { data: new Int32Array(b * T), shape: [b, T] },
      labels: { data: new Int32Array(b * T).fill(1), shape: [b, T] },
    });
    await compiled.step(feeds(2)); // plain SGD has no slots: one graph serves every step
    await compiled.step(feeds(2));
    expect(compiled.sessionCount).toBe(1);
    await compiled.step(feeds(3));
    expect(compiled.sessionCount).toBe(2);
    await expect(compiled.step({ ids: feeds(2).ids })).rejects.toThrow(/input "labels" was not fed/);
    await expect(compiled.step({ ...feeds(2), ids: { data: [0.5], shape: [1, 1], dtype: 'float32' } })).rejects.toThrow(
      /input "ids": fed \[1, 1\] float32, expected \[batch, time\] int32/,
    );
    await compiled.dispose();
  });

  it('a non-finite loss stops the step and keeps the weights', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 3]);
    const target = g.input('target', ['batch', 2]);
    const y = g.node('dense', new Dense({ units: 2 }), x);
    g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
    const graph = g.build();
    const compiled = new CompiledTrainer(
      graph,
      ParamStore.initialize(graph, 1, tfjs),
      createTrainer({ optimizer: 'adam', lr: 1e-2 }),
    );
    const x1 = { data: [1, 2, 3, 4, 5, 6], shape: [2, 3] };
    await compiled.step({ x: x1, target: { data: [0, 1, 1, 0], shape: [2, 2] } });
    const weights = () => {
      const store = compiled.paramStore(tfjs);
      const values = store.entries().map(([k, t]) => [k, t.toArray()]);
      store.dispose();
      return values;
    };
    const before = weights();
    await expect(compiled.step({ x: x1, target: { data: [1e30, 0, 0, 0], shape: [2, 2] } })).rejects.toThrow(
      TrainingError,
    );
    expect(compiled.stepCount).toBe(1);
    expect(weights()).toEqual(before);
    await compiled.dispose();
  });

  it('dropout draws a fresh mask every step (onnxruntime RandomUniform, not the eager stream)', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 8]);
    const target = g.input('target', ['batch', 2]);
    const y = g.node('dense', new Dense({ units: 2 }), g.node('drop', new Dropout({ rate: 0.5 }), x));
    g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
    const graph = g.build();
    // A learning rate too small to move the weights: only the masks change the loss.
    const compiled = new CompiledTrainer(
      graph,
      ParamStore.initialize(graph, 1, new ReferenceBackend()),
      createTrainer({ optimizer: 'sgd', lr: 1e-12 }),
    );
    const feeds = {
      x: { data: Array.from({ length: 32 }, (_, i) => 1 + i / 10), shape: [4, 8] },
      target: { data: new Float32Array(8), shape: [4, 2] },
    };
    const losses = [];
    for (let i = 0; i < 4; i++) losses.push((await compiled.step(feeds)).loss);
    expect(new Set(losses).size).toBeGreaterThan(2);
    await compiled.dispose();
  });
});

describe('CompiledTrainer: a finite loss with a non-finite gradient', () => {
  function rootGraph(): Graph {
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 1]);
    const target = g.input('target', ['batch', 1]);
    g.output('loss', g.node('loss', new MSE(), { prediction: g.node('root', new RootOfGap(), x), target }));
    return g.build();
  }
  const good = { x: { data: [0.5, 1], shape: [2, 1] }, target: { data: [1, 1], shape: [2, 1] } };
  /** Row 2 sits exactly at the gap of the weight `w` (float32, as onnxruntime holds it). */
  const atGap = (w: number, target: number) => ({
    x: { data: [w - 1, w], shape: [2, 1] },
    target: { data: [0.5, target], shape: [2, 1] },
  });
  const state = (compiled: CompiledTrainer) => {
    const params = compiled.paramStore(tfjs);
    const slots = compiled.optimizerState(tfjs);
    const values = {
      params: params.entries().map(([k, t]) => [k, t.toArray()]),
      slots: [...slots.tensors].map(([k, t]) => [k, t.toArray()]),
      meta: slots.meta,
    };
    params.dispose();
    dispose([...slots.tensors.values()]);
    return values;
  };

  // target 1 at the gap: dL/dw = −1 / (2·0) = −∞ (norm ∞); target 0: dL/dw = 0 / 0 = NaN.
  it.each([
    ['an infinite', 1, /the loss is 0\.\d+ and the gradient norm Infinity/],
    ['a NaN', 0, /the loss is 0\.\d+ and the gradient norm NaN/],
  ])('%s gradient stops the step; weights and optimizer slots stay', async (_, target, message) => {
    const graph = rootGraph();
    const compiled = new CompiledTrainer(
      graph,
      ParamStore.initialize(graph, 1, tfjs),
      createTrainer({ optimizer: 'adam', lr: 0.1, clipping: 'global-norm', clippingOptions: { maxNorm: 1 } }),
    );
    expect(Number.isFinite((await compiled.step(good)).gradNorm)).toBe(true);
    const before = state(compiled);
    expect(before.slots.length).toBe(2);
    const w = before.params[0][1] as number[];
    await expect(compiled.step(atGap(w[0], target))).rejects.toThrow(message);
    expect(compiled.stepCount).toBe(1);
    expect(state(compiled)).toEqual(before);
    await compiled.dispose();
  });

  it('stops Trainer.fit driving it as a stepper (as the CLI composes them) with the last good weights', async () => {
    const graph = rootGraph();
    const runtime = new Runtime(graph, { seed: 1, backend: tfjs });
    const trainer = createTrainer({ optimizer: 'adam', lr: 0.1 });
    const compiled = compileTrainStep(runtime, trainer);
    const stepper = {
      step: (batch: Record<string, Tensor>) => compiled.step(batch),
      sync: () => compiled.syncTo(runtime.params, trainer),
    };
    const seen: ReturnType<typeof state>[] = [];
    const data = {
      *batches() {
        for (let i = 0; i < 3; i++) {
          seen.push(state(compiled));
          const b = i < 2 ? good : atGap((seen[i].params[0][1] as number[])[0], 1);
          yield {
            x: tensor(b.x.data, b.x.shape, 'float32', tfjs),
            target: tensor(b.target.data, b.target.shape, 'float32', tfjs),
          };
        }
      },
    };
    const events: TrainEvent[] = [];
    const error = await new Promise<unknown>((resolve) =>
      trainer
        .fit(runtime, data, { epochs: 1, stepper })
        .subscribe({ next: (e) => events.push(e), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(
      /^step 3: the loss is 0\.\d+ and the gradient norm Infinity; training stopped and the weights of step 2 are kept$/,
    );
    expect(events.filter((e) => e.type === 'batch').length).toBe(2);
    expect(state(compiled)).toEqual(seen[2]);
    await compiled.dispose();
    runtime.close();
  });
});
