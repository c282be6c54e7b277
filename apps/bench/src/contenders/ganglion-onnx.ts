// Ganglion on onnxruntime, as two contenders in two processes:
// - ganglion-onnx: the compiled training step of @ganglion/backend-onnx (compileTrainStep: forward,
//   backward, clipping and the optimizer traced into ONNX, run by onnxruntime-node), on every
//   workload;
// - ganglion-onnx-export: the forward of Ganglion's own ONNX export (exportOnnx of the logits, the
//   LSTMs as native ONNX LSTM nodes) with the same session options as ort-pytorch, so its time and
//   its process's memory compare with onnxruntime running PyTorch's export. Like PyTorch's, the
//   file is written by another process (export-child.ts). char-LSTM only.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BenchError, type NodeContender, type Session } from '../contender.js';
import { loadOrt, optionalImport } from '../optional-import.js';
import { type Workload, syntheticBatch, workloadGraph } from '../workload.js';
import { ortFileSession } from './ort-file.js';

type BackendOnnx = typeof import('@ganglion/backend-onnx/node');

const EXPORT_CHILD = fileURLToPath(new URL('../export-child.js', import.meta.url));

const loadBackendOnnx = () =>
  optionalImport<BackendOnnx>('@ganglion/backend-onnx/node', () => import('@ganglion/backend-onnx/node'));

/** Whether backend-onnx (with `feature`) and onnxruntime-node load here. */
async function availableWith(feature: 'compileTrainStep' | 'exportOnnx'): Promise<true | string> {
  const onnx = await loadBackendOnnx();
  if (typeof onnx === 'string') return onnx;
  if (typeof onnx[feature] !== 'function') return `this @ganglion/backend-onnx has no ${feature}`;
  const ort = await loadOrt();
  return typeof ort === 'string' ? ort : true;
}

async function loadBackendOnnxOrThrow(): Promise<BackendOnnx> {
  const onnx = await loadBackendOnnx();
  if (typeof onnx === 'string') throw new BenchError(onnx);
  return onnx;
}

export const ganglionOnnxContender: NodeContender = {
  kind: 'node',
  name: 'ganglion-onnx',
  framework: 'ganglion',
  backend: 'onnxruntime, 2 threads',
  description: "@ganglion/backend-onnx's compiled training step (compileTrainStep) in onnxruntime-node",
  pace: 'fast',
  workloads: ['char-lstm', 'gpt'],
  available: () => availableWith('compileTrainStep'),
  async prepare(w: Workload): Promise<Session> {
    const { compileTrainStep } = await loadBackendOnnxOrThrow();
    const { createTrainer, deriveSeed, initialValues, paramKey } = await import('@ganglion/core');
    const graph = await workloadGraph(w);
    const optimizerOptions = w.kind === 'gpt' ? { weightDecay: w.weightDecay } : {};
    const trainer = createTrainer({
      optimizer: w.optimizer,
      optimizerOptions,
      lr: w.lr,
      clipping: 'global-norm',
      clippingOptions: { maxNorm: w.clipNorm },
    });
    // The initial weights straight into float32 arrays, one parameter at a time (the values
    // ParamStore.initialize gives: the same per-parameter seeds), which the compiled step takes
    // over as they are: no float64 copy of the model is ever alive, so the process's peak is the
    // training's, not the initialization's.
    const params = new Map(
      graph.params().map(({ node, spec }) => {
        const key = paramKey(node, spec.name);
        return [key, Float32Array.from(initialValues(spec.init, spec.shape, deriveSeed(0, key)))] as const;
      }),
    );
    const paramCount = [...params.values()].reduce((n, a) => n + a.length, 0);
    const compiled = compileTrainStep(
      { graph, params },
      { optimizer: trainer.optimizer, clipping: trainer.clipping, schedule: trainer.schedule, lr: w.lr },
    );
    const { ids, labels } = syntheticBatch(w);
    const shape = [w.batch, w.seqLen];
    const feeds = {
      ids: { data: ids, shape, dtype: 'int32' as const },
      labels: { data: labels, shape, dtype: 'int32' as const },
    };
    // Trace and load the first step's session and the steady-state one now, as a training run
    // would before its first step (the first-step time, from the process start, includes them).
    await compiled.prepare(feeds);
    const optimizer = w.optimizer === 'adam' ? 'Adam' : 'AdamW';
    const notes = [
      `forward, backward, clipping and ${optimizer} compiled to onnxruntime graphs; ${w.kind === 'char-lstm' ? 'its forward is ganglion-onnx-export' : 'training only'}`,
    ];
    let steps = 0;
    return {
      async trainStep() {
        const { loss } = await compiled.step(feeds);
        if (++steps === 1) notes.push(`loss at step 1: ${loss.toFixed(4)}`);
      },
      paramCount,
      notes,
    };
  },
};

export const ganglionOnnxExportContender: NodeContender = {
  kind: 'node',
  name: 'ganglion-onnx-export',
  framework: 'ganglion',
  backend: 'onnxruntime, 2 threads',
  description: "Ganglion's ONNX export (exportOnnx of the logits) run by an onnxruntime-node InferenceSession",
  pace: 'fast',
  available: () => availableWith('exportOnnx'),
  prepare(w: Workload): Promise<Session> {
    const { ids } = syntheticBatch(w);
    // Exported in another process (export-child.ts), as ort-pytorch's file is made by PyTorch's.
    return ortFileSession(w, {
      file: 'ganglion_lstm.onnx',
      write: (path) => {
        try {
          execFileSync(process.execPath, [EXPORT_CHILD, w.name, path], { stdio: ['ignore', 'ignore', 'pipe'] });
        } catch (e) {
          throw new BenchError(`exporting the model failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
        }
      },
      feeds: (ort) => ({ ids: new ort.Tensor('int32', ids, [w.batch, w.seqLen]) }),
      notes: ['forward only: the exported model as a deployment would run it (exported in another process)'],
    });
  },
};
