// The fused apply kernel against onnxruntime running the same apply graph: for every optimizer and
// elementwise clipping policy, split steps with the kernel leave the same bits in the weights and
// slots as split steps whose apply graphs onnxruntime runs; a parameter of several blocks with a
// size that is not a multiple of 4 included. Per-tensor norm clipping is not lowered.
import { type Graph, GraphBuilder, ParamStore, ReferenceBackend, createTrainer } from '@ganglion/core';
import { Dense, Embedding, SoftmaxCrossEntropy } from '@ganglion/layers';
import { describe, expect, it } from 'vitest';
import { CompiledTrainer } from './compiled-trainer.js';
import { fuseApply } from './fused-apply.js';
import { traceApply } from './trace-train-step.js';
import { TRAIN_VOCAB, trainBatches, trainGpt } from '../testing/graphs.js';

const V = TRAIN_VOCAB;

/** A head of 4099 classes on 9 features: a 36,891-value weight (three blocks of the kernel, the last partial) and an odd bias. */
function wide(): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const e = g.node('embed', new Embedding({ vocabSize: V, dim: 9 }), ids);
  const logits = g.node('head', new Dense({ units: 4099 }), e);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

function pair(graph: Graph, config: Parameters<typeof createTrainer>[0]) {
  const make = (fusedApply: boolean) =>
    new CompiledTrainer(graph, ParamStore.initialize(graph, 5, new ReferenceBackend()), createTrainer(config), {
      mode: 'split',
      fusedApply,
    });
  return [make(true), make(false)] as const;
}

/** Values of the weights and slots that differ in any bit, by name. */
function differing(a: CompiledTrainer, b: CompiledTrainer): string[] {
  const backend = new ReferenceBackend();
  const out: string[] = [];
  const compare = (name: string, x: Float32Array, y: Float32Array) => {
    if (x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) out.push(name);
  };
  const [pa, pb] = [a.paramStore(backend), b.paramStore(backend)];
  for (const [key, t] of pa.entries())
    compare(key, t.dataSync() as Float32Array, pb.get(key).dataSync() as Float32Array);
  const [sa, sb] = [a.optimizerState(backend), b.optimizerState(backend)];
  expect([...sa.tensors.keys()].sort()).toEqual([...sb.tensors.keys()].sort());
  for (const [name, t] of sa.tensors)
    compare(name, t.dataSync() as Float32Array, sb.tensors.get(name)!.dataSync() as Float32Array);
  return out;
}

describe('fused apply', () => {
  it.each([
    ['adamw', {}, 'global-norm'],
    ['adam', { weightDecay: 0.01 }, 'value'],
    ['sgd', { momentum: 0.9, nesterov: true, weightDecay: 0.001 }, 'global-norm'],
    ['rmsprop', {}, 'none'],
    ['adagrad', {}, 'value'],
  ] as const)(
    '%s (%o), clipping by %s: the same bits as onnxruntime running the apply graph, 3 steps',
    async (optimizer, optimizerOptions, clipping) => {
      const [fused, onnx] = pair(trainGpt(1), {
        optimizer,
        optimizerOptions,
        lr: 1e-2,
        clipping,
        clippingOptions: clipping === 'value' ? { clipValue: 0.05 } : clipping === 'none' ? {} : { maxNorm: 0.5 },
      });
      for (const batch of trainBatches(3)) {
        const [a, b] = [await fused.step(batch), await onnx.step(batch)];
        expect(a.loss).toBe(b.loss);
      }
      expect(differing(fused, onnx)).toEqual([]);
      // Only the gradients graph is an onnxruntime session when every apply graph is fused.
      expect(fused.sessionCount).toBe(1);
      expect(onnx.sessionCount).toBeGreaterThan(1);
      await Promise.all([fused.dispose(), onnx.dispose()]);
    },
  );

  it('a parameter over several blocks, of a size not a multiple of 4, gets the same bits', async () => {
    const [fused, onnx] = pair(wide(), {
      optimizer: 'adamw',
      lr: 1e-2,
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 1 },
    });
    for (const batch of trainBatches(3)) await Promise.all([fused.step(batch), onnx.step(batch)]);
    expect(differing(fused, onnx)).toEqual([]);
    const moved = fused.paramStore(new ReferenceBackend()).get('head.kernel').dataSync();
    const start = ParamStore.initialize(wide(), 5, new ReferenceBackend()).get('head.kernel').dataSync();
    // The last value of the last block moved too (the loop covers the partial block).
    expect(moved[moved.length - 1]).not.toBe(start[start.length - 1]);
    await Promise.all([fused.dispose(), onnx.dispose()]);
  });

  it('clipping by each tensor norm reads whole tensors: not lowered, onnxruntime runs it', () => {
    const graph = trainGpt(1);
    const trainer = createTrainer({ optimizer: 'adamw', lr: 1e-2, clipping: 'norm', clippingOptions: { maxNorm: 1 } });
    const model = traceApply({
      graph,
      optimizer: trainer.optimizer,
      clipping: trainer.clipping,
      keys: ['ln_f.weight', 'ln_f.bias'],
      slots: new Map(),
    });
    expect(fuseApply(model.bytes)).toBeUndefined();
    const elementwise = createTrainer({
      optimizer: 'adamw',
      lr: 1e-2,
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 1 },
    });
    const kernel = fuseApply(
      traceApply({
        graph,
        optimizer: elementwise.optimizer,
        clipping: elementwise.clipping,
        keys: ['ln_f.weight', 'ln_f.bias'],
        slots: new Map(),
      }).bytes,
    );
    expect(kernel?.outputs.length).toBe(6);
  });
});
