// onnxruntime-node running PyTorch's ONNX export of the same model, forward only: the bar that
// Ganglion's own export (ganglion-onnx) is held to. The export is made by the PyTorch script
// in a separate process, so this process holds only onnxruntime.
import { execFileSync } from 'node:child_process';
import type { NodeContender, Session } from '../contender.js';
import { loadOrt } from '../optional-import.js';
import { type Workload, charLstmOnly, syntheticBatch } from '../workload.js';
import { ortFileSession } from './ort-file.js';
import { PYTHON, TORCH_SCRIPT, torchAvailable, torchEnv, workloadArgs } from './pytorch.js';

export const ortPytorchContender: NodeContender = {
  kind: 'node',
  name: 'ort-pytorch',
  framework: 'onnxruntime',
  backend: 'onnxruntime, 2 threads',
  description: "onnxruntime-node InferenceSession.run on PyTorch's torch.onnx.export of the model",
  pace: 'fast',
  async available() {
    const ort = await loadOrt();
    if (typeof ort === 'string') return ort;
    return torchAvailable();
  },
  prepare(workload: Workload): Promise<Session> {
    const w = charLstmOnly(workload, 'ort-pytorch');
    const { ids } = syntheticBatch(w);
    return ortFileSession(w, {
      file: 'torch_lstm.onnx',
      write: (path) =>
        void execFileSync(PYTHON, [TORCH_SCRIPT, ...workloadArgs(w), '--export', path], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: torchEnv(),
        }),
      feeds: (ort) => ({ tokens: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [w.batch, w.seqLen]) }),
      notes: ['forward only: onnxruntime runs inference'],
    });
  },
};
