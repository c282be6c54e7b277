// onnxruntime-node running PyTorch's ONNX export of the same model, forward only: the bar that
// Ganglion's own export (ganglion-onnx) is held to. The export is made by the PyTorch script
// in a separate process, so this process holds only onnxruntime.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError, type NodeContender, type Session } from '../contender.js';
import { loadOrt } from '../optional-import.js';
import { type Workload, syntheticBatch } from '../workload.js';
import { PYTHON, TORCH_SCRIPT, torchAvailable, workloadArgs } from './pytorch.js';

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
  async prepare(w: Workload): Promise<Session> {
    const ort = await loadOrt();
    if (typeof ort === 'string') throw new BenchError(ort);
    const dir = mkdtempSync(join(tmpdir(), 'ganglion-bench-'));
    try {
      const path = join(dir, 'torch_lstm.onnx');
      execFileSync(PYTHON, [TORCH_SCRIPT, ...workloadArgs(w), '--export', path], { stdio: ['ignore', 'ignore', 'pipe'] });
      const session = await ort.InferenceSession.create(path, { intraOpNumThreads: w.threads, interOpNumThreads: 1 });
      const { ids } = syntheticBatch(w);
      const tokens = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [w.batch, w.seqLen]);
      return {
        forward: async () => (await session.run({ tokens })).logits.data,
        notes: ['forward only: onnxruntime runs inference'],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
