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
import { type Workload, syntheticBatch } from '../workload.js';
import { compiledStepSession } from './compiled-step.js';
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
    return compiledStepSession(await loadBackendOnnxOrThrow(), w);
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
