// The split compiled step against the fused one: a `gradients` graph then per-group `apply`
// graphs (updating weights and slots in place) train a small GPT and the char-LSTM exactly as the
// fused graph does; one apply graph for all parameters equals one per node; gradient accumulation
// over K micro-batches equals one step on the whole batch; and the two-phase API (gradients, then
// apply with gradients handed back) equals `step`; watched messages come from the gradients graph.
import { type Graph, GraphBuilder, ParamStore, ReferenceBackend, Runtime, createTrainer, tensor } from '@ganglion/core';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { describe, expect, it } from 'vitest';
import { type CompileOptions, CompiledTrainer, compileTrainStep } from './compiled-trainer.js';
import { splitBatch } from './micro-batches.js';
import { TRAIN_VOCAB, trainBatches, trainGpt } from '../testing/graphs.js';

const V = TRAIN_VOCAB;

function charLstm(): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const e = g.node('embed', new Embedding({ vocabSize: V, dim: 8 }), ids);
  const h = g.node('lstm1', new LSTM({ units: 12 }), e);
  const logits = g.node('head', new Dense({ units: V }), h);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

const setup = () =>
  createTrainer({ optimizer: 'adamw', lr: 1e-2, clipping: 'global-norm', clippingOptions: { maxNorm: 0.5 } });

function trainer(graph: Graph, options: CompileOptions): CompiledTrainer {
  return new CompiledTrainer(graph, ParamStore.initialize(graph, 5, new ReferenceBackend()), setup(), options);
}

function maxDiff(a: CompiledTrainer, b: CompiledTrainer): number {
  const backend = new ReferenceBackend();
  const [pa, pb] = [a.paramStore(backend), b.paramStore(backend)];
  let worst = 0;
  for (const [key, t] of pa.entries()) {
    const [x, y] = [t.dataSync(), pb.get(key).dataSync()];
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  const [sa, sb] = [a.optimizerState(backend), b.optimizerState(backend)];
  expect([...sa.tensors.keys()].sort()).toEqual([...sb.tensors.keys()].sort());
  for (const [name, t] of sa.tensors) {
    const [x, y] = [t.dataSync(), sb.tensors.get(name)!.dataSync()];
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

describe('split compiled step', () => {
  it.each([
    ['small GPT', () => trainGpt()],
    ['char-LSTM', charLstm],
  ] as const)('%s: gradients + per-node apply equals the fused step over 3 steps', async (_, build) => {
    const graph = build();
    const fused = trainer(graph, { mode: 'fused' });
    const split = trainer(graph, { mode: 'split' });
    for (const batch of trainBatches(3)) {
      const [a, b] = [await fused.step(batch), await split.step(batch)];
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
      expect(Math.abs(a.gradNorm - b.gradNorm)).toBeLessThan(1e-5);
    }
    expect(maxDiff(fused, split)).toBeLessThan(1e-5);
    await Promise.all([fused.dispose(), split.dispose()]);
  });

  it('one apply graph for all parameters equals one per graph node', async () => {
    const graph = trainGpt();
    // onnxruntime's apply graphs (a fused apply makes no sessions; fused-apply.test.ts).
    const perNode = trainer(graph, { mode: 'split', fusedApply: false });
    const whole = trainer(graph, { mode: 'split', applyGroups: 'all', fusedApply: false });
    for (const batch of trainBatches(3)) await Promise.all([perNode.step(batch), whole.step(batch)]);
    // gradients + apply for embed, pos, ln_f and one shared by block1 and block2 (same shapes).
    expect(perNode.sessionCount).toBe(5);
    expect(whole.sessionCount).toBe(2);
    expect(maxDiff(perNode, whole)).toBeLessThan(1e-6);
    await Promise.all([perNode.dispose(), whole.dispose()]);
  });

  it.each([
    ['global-norm', true],
    ['norm', false],
  ] as const)(
    'gradients and parameters above blockBytes, clipped by %s, train as the fused step does (apply in row blocks: %s)',
    async (clipping, blocked) => {
      const graph = trainGpt();
      const make = (options: CompileOptions) =>
        new CompiledTrainer(
          graph,
          ParamStore.initialize(graph, 5, new ReferenceBackend()),
          createTrainer({ optimizer: 'adamw', lr: 1e-2, clipping, clippingOptions: { maxNorm: 0.5 } }),
          options,
        );
      const fused = make({ mode: 'fused' });
      // 200 bytes: the [11, 16] token table goes in blocks of 3, 3, 3 and 2 rows; clipping each
      // block by its own norm would not match the fused step, so 'norm' must update it whole.
      // Row blocks are onnxruntime's apply graphs' (a fused apply never allocates a whole tensor).
      const split = make({ mode: 'split', blockBytes: 200, fusedApply: false });
      const plain = make({ mode: 'split', fusedApply: false });
      for (const batch of trainBatches(3)) await Promise.all([fused.step(batch), split.step(batch), plain.step(batch)]);
      expect(maxDiff(fused, split)).toBeLessThan(1e-5);
      // The gradients graph returns the table's gradient as four outputs, computed a block at a time.
      const model = await split.prepare(trainBatches(1)[0]);
      expect(model.grads.find((g) => g.key === 'embed.weight')?.rows?.map((b) => b.count)).toEqual([3, 3, 3, 2]);
      expect(model.rewrites.rowSlices).toBeGreaterThan(0);
      expect(split.sessionCount > plain.sessionCount).toBe(blocked);
      await Promise.all([fused.dispose(), split.dispose(), plain.dispose()]);
    },
  );

  it('accumulating K micro-batches gives the gradients of the whole batch (mean loss)', async () => {
    const graph = trainGpt();
    const whole = trainer(graph, { mode: 'split' });
    const accum = trainer(graph, { mode: 'split' });
    const [batch] = trainBatches(1, 8);
    const a = await whole.gradients(batch);
    const expected = new Map([...a.grads].map(([k, v]) => [k, Float32Array.from(v)]));
    await accum.gradients(batch); // allocates the buffers; zeroed below
    accum.zeroGradients();
    let loss = 0;
    let summed = a.grads;
    for (const micro of splitBatch(batch, 4)) {
      const g = await accum.gradients(micro, { accumulate: true, scale: 1 / 4 });
      loss += g.loss / 4;
      summed = g.grads;
    }
    expect(Math.abs(loss - a.loss)).toBeLessThan(1e-5);
    expect(Math.abs((await accum.gradNorm()) - a.gradNorm)).toBeLessThan(1e-5);
    let worst = 0;
    for (const [key, g] of expected) {
      const got = summed.get(key)!;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - got[i]));
    }
    expect(worst).toBeLessThan(1e-6);
    await Promise.all([whole.dispose(), accum.dispose()]);
  });

  it('gradAccum K trains as one step on the whole batch (SGD with momentum, 3 steps)', async () => {
    const graph = trainGpt();
    const sgd = () =>
      createTrainer({
        optimizer: 'sgd',
        optimizerOptions: { momentum: 0.9 },
        lr: 0.1,
        clipping: 'global-norm',
        clippingOptions: { maxNorm: 0.5 },
      });
    const whole = new CompiledTrainer(graph, ParamStore.initialize(graph, 5, new ReferenceBackend()), sgd(), {
      mode: 'split',
    });
    const accum = new CompiledTrainer(graph, ParamStore.initialize(graph, 5, new ReferenceBackend()), sgd(), {
      mode: 'split',
      gradAccum: 4,
    });
    for (const batch of trainBatches(3, 8)) {
      const [a, b] = [await whole.step(batch), await accum.step(batch)];
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
      expect(Math.abs(a.gradNorm - b.gradNorm)).toBeLessThan(1e-5);
    }
    expect(maxDiff(whole, accum)).toBeLessThan(1e-5);
    await Promise.all([whole.dispose(), accum.dispose()]);
  });

  it('gradients, then apply with the gradients handed back, equals step', async () => {
    const graph = charLstm();
    const stepped = trainer(graph, { mode: 'split' });
    const twoPhase = trainer(graph, { mode: 'split' });
    for (const batch of trainBatches(3)) {
      const a = await stepped.step(batch);
      const g = await twoPhase.gradients(batch);
      // As an all-reduce over two workers with the same batch would: (g + g) / 2, in new arrays.
      const reduced = new Map([...g.grads].map(([k, v]) => [k, Float32Array.from(v, (x) => (x + x) / 2)]));
      const r = await twoPhase.apply(reduced);
      expect(r.step).toBe(a.step);
      expect(Math.abs(a.loss - g.loss)).toBeLessThan(1e-6);
    }
    expect(maxDiff(stepped, twoPhase)).toBeLessThan(1e-6);
    await Promise.all([stepped.dispose(), twoPhase.dispose()]);
  });

  it('emits the watched messages from the gradients graph, as the fused step does', async () => {
    const seen = async (mode: 'fused' | 'split') => {
      const backend = new ReferenceBackend();
      const runtime = new Runtime(charLstm(), { seed: 7, backend });
      const got: string[] = [];
      const values: number[] = [];
      const sub = runtime.watch({ kind: 'param-grad' }).subscribe((m) => {
        if (m.kind !== 'param-grad') return;
        got.push(`${m.step} ${m.node}.${m.param} ${m.grad.shape.join('x')}`);
        values.push(...m.grad.dataSync());
      });
      const compiled = compileTrainStep(runtime, setup(), { mode });
      for (const b of trainBatches(2))
        await compiled.step({
          ids: tensor(b.ids.data, b.ids.shape, 'int32', backend),
          labels: tensor(b.labels.data, b.labels.shape, 'int32', backend),
        });
      sub.unsubscribe();
      await compiled.dispose();
      runtime.close();
      return { got, values };
    };
    const [fused, split] = [await seen('fused'), await seen('split')];
    expect(split.got).toEqual(fused.got);
    expect(fused.got.length).toBe(2 * new ParamStore(charLstm()).specs.size); // every parameter, both steps
    let worst = 0;
    for (let i = 0; i < fused.values.length; i++) worst = Math.max(worst, Math.abs(fused.values[i] - split.values[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  it('updates only its own buffers in place: the weights it was given and those it handed out keep their values', async () => {
    const tfjs = await TfjsBackend.create('cpu');
    const runtime = new Runtime(trainGpt(), { seed: 3, backend: tfjs });
    const before = new Map([...runtime.params.entries()].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
    const compiled = compileTrainStep(runtime, setup(), { mode: 'split' });
    const [b1, b2] = trainBatches(2);
    await compiled.step(b1);
    const handedOut = compiled.paramStore(tfjs);
    const snapshot = new Map([...handedOut.entries()].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
    await compiled.step(b2);
    for (const [key, t] of runtime.params.entries()) expect([...t.dataSync()], key).toEqual([...before.get(key)!]);
    for (const [key, t] of handedOut.entries()) expect([...t.dataSync()], key).toEqual([...snapshot.get(key)!]);
    expect([...compiled.paramStore(tfjs).get('block1.ff.in_weight').dataSync()]).not.toEqual([
      ...snapshot.get('block1.ff.in_weight')!,
    ]);
    handedOut.dispose();
    await compiled.dispose();
    runtime.close();
  });
});
