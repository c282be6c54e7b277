// PyTorch 1.13 CPU (the system's /usr/bin/python3 with python3-torch and OpenBLAS), 2 threads: the
// same training step in bench/torch_lstm.py, run as its own process.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProcessContender } from '../contender.js';
import type { StepCounts, Workload } from '../workload.js';

export const PYTHON = '/usr/bin/python3';
/** apps/cli/bench/torch_lstm.py, from src/bench/contenders or dist/bench/contenders alike. */
export const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/torch_lstm.py', import.meta.url));

let torchCheck: Promise<true | string> | undefined;

/** Whether `/usr/bin/python3 -c "import torch"` works (asked once per process). */
export function torchAvailable(): Promise<true | string> {
  torchCheck ??= Promise.resolve().then(() => {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
    if (r.status !== 0) return `${PYTHON} -c "import torch" failed: ${r.stderr.trim().split('\n').at(-1) ?? `exit status ${r.status}`}`;
    return true;
  });
  return torchCheck;
}

/** The workload as torch_lstm.py's arguments. */
export function workloadArgs(w: Workload, counts?: StepCounts): string[] {
  const args = ['--vocab', w.vocab, '--embed', w.embed, '--units', w.units, '--layers', w.layers, '--seq', w.seqLen, '--batch', w.batch, '--threads', w.threads, '--lr', w.lr, '--clip', w.clipNorm];
  if (counts) args.push('--warmup', counts.warmup, '--steps', counts.measured, '--forward-warmup', counts.forwardWarmup, '--forward-steps', counts.forwardMeasured);
  return args.map(String);
}

export const pytorchContender: ProcessContender = {
  kind: 'process',
  name: 'pytorch',
  framework: 'pytorch',
  backend: 'torch cpu, 2 threads',
  description: 'PyTorch nn.Embedding/nn.LSTM/nn.Linear, Adam, clip_grad_norm_ (bench/torch_lstm.py)',
  pace: 'fast',
  available: () => torchAvailable(),
  command: (w, counts) => ({ file: PYTHON, args: [TORCH_SCRIPT, ...workloadArgs(w, counts)] }),
};
