// onnxruntime-web (wasm, run here in Node) against onnxruntime-node on the same ONNX graphs: the
// compiled training step of a small char-LSTM and char-GPT gives the same losses over 10 steps
// (same seed, same batches) and the same weights, and greedy generation from the trained
// weights, run by each runtime, gives the same text. The binding is switched with `useOrt`
// between whole runs (tensors of one runtime cannot feed the other's sessions).
import {
  CharTokenizer,
  type Graph,
  ReferenceBackend,
  Runtime,
  type Tensor,
  createTrainer,
  generate,
  keep,
  tensor,
} from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { type CompileOptions, type OrtModule, compileTrainStep, runnerModel, useOrt } from '../index.js';
import { ortNode, useOrtNode } from './index.js';

const TEXT = 'the quick brown fox jumps over the lazy dog, then the dog naps. ';
const tokenizer = CharTokenizer.fromText(TEXT);
const B = 4;
const T = 16;
const STEPS = 10;
const backend = new ReferenceBackend();

/** Fixed batches of next-character windows of TEXT (window k starts at 5k). */
function batches(): { ids: Tensor; labels: Tensor }[] {
  const all = tokenizer.encode(TEXT.repeat(4));
  return Array.from({ length: 3 }, (_, k) => {
    const ids: number[] = [];
    const labels: number[] = [];
    for (let b = 0; b < B; b++) {
      const at = 5 * (k * B + b);
      for (let t = 0; t < T; t++) {
        ids.push(all[at + t]);
        labels.push(all[at + t + 1]);
      }
    }
    return { ids: keep(tensor(ids, [B, T], 'int32', backend)), labels: keep(tensor(labels, [B, T], 'int32', backend)) };
  });
}

interface Run {
  readonly losses: number[];
  readonly weights: Map<string, Float32Array>;
  readonly text: string;
}

/** Train `graph` STEPS compiled steps on `ort`, then generate greedily on it. */
async function trainAndGenerate(ort: OrtModule, graph: Graph, options: CompileOptions = {}): Promise<Run> {
  useOrt(ort, { executionProviders: ort === ortNode ? ['cpu'] : ['wasm'], numThreads: 1 });
  const runtime = new Runtime(graph, { seed: 11, backend });
  const trainer = createTrainer({
    optimizer: 'adam',
    lr: 2e-2,
    clipping: 'global-norm',
    clippingOptions: { maxNorm: 1 },
  });
  const compiled = compileTrainStep(runtime, trainer, options);
  const data = batches();
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) losses.push((await compiled.step(data[s % data.length])).loss);
  compiled.syncTo(runtime.params, trainer);
  await compiled.dispose();
  const weights = new Map(runtime.params.entries().map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
  const text = await generate(runnerModel(graph, runtime.params), tokenizer, 'the ', 40, { temperature: 0, seed: 0 });
  runtime.close();
  return { losses, weights, text };
}

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);

afterAll(() => useOrtNode());

describe('onnxruntime-web and onnxruntime-node run the same compiled step', () => {
  const V = tokenizer.vocabSize;
  // The split step (gradients, then apply in place, a large table in row blocks) as well as the
  // fused one: onnxruntime-web does not write into preallocated outputs, onnxruntime-node does.
  const split: CompileOptions = { mode: 'split', blockBytes: 256 };
  it.each([
    ['char-lstm', charLstm(16, [32])(V), {}],
    ['char-gpt', gpt({ dim: 16, heads: 2, blocks: 1, context: T, position: 'rope' })(V), {}],
    ['char-gpt, split in row blocks', gpt({ dim: 16, heads: 2, blocks: 1, context: T, position: 'rope' })(V), split],
  ] as const)('%s: 10 steps, the weights after them and the greedy text', async (name, graph, options) => {
    const web = await trainAndGenerate(ortWeb, graph, options);
    const node = await trainAndGenerate(ortNode, graph, options);
    const worst = Math.max(...web.losses.map((l, i) => relDiff(l, node.losses[i])));
    console.log(
      `${name}: losses ${node.losses[0].toFixed(4)} -> ${node.losses[STEPS - 1].toFixed(4)}; max relative difference web vs node ${worst.toExponential(2)}; greedy ${JSON.stringify(web.text)}`,
    );
    expect(node.losses[STEPS - 1]).toBeLessThan(node.losses[0]);
    for (let i = 0; i < STEPS; i++)
      expect(relDiff(web.losses[i], node.losses[i]), `loss at step ${i + 1}`).toBeLessThan(1e-5);
    for (const [key, w] of node.weights) {
      const other = web.weights.get(key)!;
      let m = 0;
      for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i] - other[i]));
      expect(m, `weight ${key}`).toBeLessThan(1e-5);
    }
    expect(web.text).toBe(node.text);
    expect(web.text.length).toBeGreaterThan(0);
  });
});
