// A character language model built from the real layers (Embedding -> LSTM -> Dense -> loss), fed
// by the data pipeline (CharTokenizer -> train/validation split -> lmDataset), saved and loaded:
// the loaded model has the same parameters bit for bit, gives the same outputs, and training
// resumed from the checkpoint takes exactly the step the original would have taken.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  type Batch,
  CharTokenizer,
  type Graph,
  GraphBuilder,
  type LayerResolver,
  ParamStore,
  ReferenceBackend,
  Rng,
  Runtime,
  dispose,
  lmDataset,
  mul,
  sub,
  tensor,
  tidy,
  trainValidationSplit,
} from '@ganglion/core';
import { loadCheckpoint, saveCheckpoint } from '@ganglion/core/node';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy, builtinLayers } from '@ganglion/layers';

const TEXT = 'the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. '.repeat(4);
const resolve: LayerResolver = (kind) => builtinLayers.find((c) => c.kind === kind);

function charLM(vocabSize: number): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const emb = g.node('embed', new Embedding({ vocabSize, dim: 6 }), ids);
  const lstm = g.node('lstm', new LSTM({ units: 8 }), emb);
  const logits = g.node('head', new Dense({ units: vocabSize }), lstm);
  g.output('logits', logits);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

/** Round every parameter to float32, the precision checkpoints store (the reference backend is float64). */
function roundToFloat32(params: ParamStore): void {
  for (const [key, t] of params.entries())
    params.set(key, tensor(Float32Array.from(t.dataSync()), t.shape, 'float32', t.backend));
}

/** Plain SGD on every parameter with a gradient. */
function sgdStep(runtime: Runtime, batch: Batch, lr: number): number {
  const result = runtime.trainStep(batch, { loss: 'loss' });
  tidy(() => {
    for (const [key, g] of result.paramGrads) runtime.params.set(key, sub(runtime.params.get(key), mul(g, lr)));
  });
  const loss = result.loss;
  dispose([result.outputs, [...result.paramGrads.values()], [...result.inputGrads.values()]]);
  return loss;
}

const values = (params: ParamStore) => Object.fromEntries(params.entries().map(([k, t]) => [k, t.toArray()]));

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-it-ckpt-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkpointing a character LSTM language model', () => {
  test('save -> load: identical parameters and forward outputs; resumed training takes the same step', async () => {
    const backend = new ReferenceBackend();
    const tok = CharTokenizer.fromText(TEXT);
    const { train, validation } = trainValidationSplit(tok.encode(TEXT), 0.1);
    const data = lmDataset(train, { seqLen: 12, batchSize: 4, shuffle: true, seed: 5, backend });
    const valData = lmDataset(validation, { seqLen: 12, batchSize: 2, backend });
    expect(data.size).toBeGreaterThan(3);

    const graph = charLM(tok.vocabSize);
    const runtime = new Runtime(graph, { seed: 11, backend });
    roundToFloat32(runtime.params);
    const rng = new Rng(99);
    rng.nextSeed();

    // Train a few steps, then checkpoint mid-epoch.
    const batches = [...data.batches(0)];
    const losses = batches.slice(0, 3).map((b) => sgdStep(runtime, b, 0.5));
    expect(losses.every(Number.isFinite)).toBe(true);
    roundToFloat32(runtime.params);

    const dir = join(root, 'ckpt');
    await saveCheckpoint(dir, {
      graph,
      params: runtime.params,
      meta: { step: 3, epoch: 0, rng: rng.state, tokenizer: tok.toJSON(), batchInEpoch: 3 },
    });

    const loaded = await loadCheckpoint(dir, { resolve, backend });
    expect(loaded.graph.toJSON()).toEqual(graph.toJSON());
    expect(loaded.graph.summary()).toBe(graph.summary());
    expect(loaded.params).not.toBe(runtime.params);
    expect(loaded.params.keys()).toEqual(runtime.params.keys());
    expect(values(loaded.params)).toEqual(values(runtime.params));

    // The tokenizer (from tokenizer.json) and the RNG (from meta.json) come back.
    const tok2 = CharTokenizer.fromJSON(loaded.tokenizer);
    expect(tok2.decode(tok.encode('lazy dog'))).toBe('lazy dog');
    const rng2 = Rng.fromState(loaded.meta.rng!);
    expect(rng2.nextSeed()).toBe(rng.nextSeed());

    // Same forward outputs on validation data.
    const restored = new Runtime(loaded.graph, { params: loaded.params, backend });
    for (const batch of valData.batches(0)) {
      const a = runtime.forward(batch);
      const b = restored.forward(batch);
      expect(b.logits.shape).toEqual([2, 12, tok.vocabSize]);
      expect(b.logits.toArray()).toEqual(a.logits.toArray());
      expect(b.loss.item()).toBe(a.loss.item());
      dispose([a, b, batch]);
    }

    // Resuming: the next step from the checkpoint equals the next step of the original run.
    const next = batches[loaded.meta.batchInEpoch as number];
    const lossA = sgdStep(runtime, next, 0.5);
    const lossB = sgdStep(restored, next, 0.5);
    expect(lossB).toBe(lossA);
    expect(values(restored.params)).toEqual(values(runtime.params));
    dispose(batches);
  });

  test('a checkpoint of this model cannot be loaded without its layers, or into a different model', async () => {
    const tok = CharTokenizer.fromText(TEXT);
    const graph = charLM(tok.vocabSize);
    const dir = join(root, 'ckpt');
    await saveCheckpoint(dir, { graph, params: ParamStore.initialize(graph, 1), meta: { step: 0, epoch: 0 } });
    await expect(
      loadCheckpoint(dir, { resolve: (kind) => (kind === 'LSTM' ? undefined : resolve(kind)) }),
    ).rejects.toThrow(/graph\.json: cannot rebuild the graph: node "lstm": unknown layer kind "LSTM"/);
    // Another model's weights in this directory: the shapes disagree with the graph.
    const other = charLM(tok.vocabSize + 1);
    const otherDir = join(root, 'other');
    await saveCheckpoint(otherDir, {
      graph: other,
      params: ParamStore.initialize(other, 1),
      meta: { step: 0, epoch: 0 },
    });
    // Copied with its manifest entry, so the files are consistent and the graph check speaks.
    await copyFile(join(otherDir, 'weights.safetensors'), join(dir, 'weights.safetensors'));
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    meta.files['weights.safetensors'] = JSON.parse(await readFile(join(otherDir, 'meta.json'), 'utf8')).files[
      'weights.safetensors'
    ];
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    await rm(join(dir, '.ganglion'), { recursive: true });
    await expect(loadCheckpoint(dir, { resolve })).rejects.toThrow(
      new RegExp(
        `weights\\.safetensors: tensor "embed\\.weight" has shape \\[${tok.vocabSize + 1}, 6\\], expected \\[${tok.vocabSize}, 6\\] \\(parameter "weight" of Embedding node "embed"\\)`,
      ),
    );
  });
});
