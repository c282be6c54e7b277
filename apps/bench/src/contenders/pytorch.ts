// PyTorch 1.13 CPU (the system's /usr/bin/python3 with python3-torch and OpenBLAS), 2 threads: the
// same training step in python/torch_lstm.py (char-LSTM) or python/torch_gpt.py (GPT), run as its
// own process, in the environment that gives it its best speed (torchEnv).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProcessContender } from '../contender.js';
import type { GptWorkload, LstmWorkload, StepCounts } from '../workload.js';

export const PYTHON = '/usr/bin/python3';
/** apps/bench/python/torch_lstm.py, from src/contenders or dist/contenders alike. */
export const TORCH_SCRIPT = fileURLToPath(new URL('../../python/torch_lstm.py', import.meta.url));
/** apps/bench/python/torch_gpt.py. */
export const TORCH_GPT_SCRIPT = fileURLToPath(new URL('../../python/torch_gpt.py', import.meta.url));

/**
 * Variables that pin OpenBLAS to a kernel set and cache size chosen for older builds. Some machines
 * set them; with them, PyTorch's OpenBLAS runs 1.3–2x slower than with the kernels it picks itself.
 */
export const OPENBLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

/**
 * The environment of every Python process that runs torch: `parent` without OPENBLAS_OVERRIDES.
 * Only the child's copy changes; the caller's environment is left as it is.
 *
 *   spawn(PYTHON, [TORCH_SCRIPT], { env: torchEnv() });
 */
export function torchEnv(parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...parent };
  for (const name of OPENBLAS_OVERRIDES) delete env[name];
  return env;
}

let torchCheck: Promise<true | string> | undefined;

/** Whether `/usr/bin/python3 -c "import torch"` works (asked once per process). */
export function torchAvailable(): Promise<true | string> {
  torchCheck ??= Promise.resolve().then(() => {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000, env: torchEnv() });
    if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
    if (r.status !== 0)
      return `${PYTHON} -c "import torch" failed: ${r.stderr.trim().split('\n').at(-1) ?? `exit status ${r.status}`}`;
    return true;
  });
  return torchCheck;
}

/** The workload as torch_lstm.py's arguments. */
export function workloadArgs(w: LstmWorkload, counts?: StepCounts): string[] {
  const args = [
    '--vocab',
    w.vocab,
    '--embed',
    w.embed,
    '--units',
    w.units,
    '--layers',
    w.layers,
    '--seq',
    w.seqLen,
    '--batch',
    w.batch,
    '--threads',
    w.threads,
    '--lr',
    w.lr,
    '--clip',
    w.clipNorm,
  ];
  if (counts)
    args.push(
      '--warmup',
      counts.warmup,
      '--steps',
      counts.measured,
      '--forward-warmup',
      counts.forwardWarmup,
      '--forward-steps',
      counts.forwardMeasured,
    );
  return args.map(String);
}

/** The GPT workload as torch_gpt.py's arguments (training steps only). */
export function gptArgs(w: GptWorkload, counts?: StepCounts): string[] {
  const args = [
    '--vocab',
    w.vocab,
    '--dim',
    w.dim,
    '--blocks',
    w.blocks,
    '--heads',
    w.heads,
    '--context',
    w.seqLen,
    '--batch',
    w.batch,
    '--threads',
    w.threads,
    '--lr',
    w.lr,
    '--weight-decay',
    w.weightDecay,
    '--clip',
    w.clipNorm,
  ];
  if (w.lora)
    args.push('--lora', w.lora.rank, '--lora-alpha', w.lora.alpha, '--lora-targets', w.lora.targets.join(','));
  if (counts) args.push('--warmup', counts.warmup, '--steps', counts.measured);
  return args.map(String);
}

export const pytorchContender: ProcessContender = {
  kind: 'process',
  name: 'pytorch',
  framework: 'pytorch',
  backend: 'torch cpu, 2 threads',
  description:
    'PyTorch: nn.Embedding/nn.LSTM/nn.Linear with Adam (python/torch_lstm.py), or the GPT with AdamW (python/torch_gpt.py); clip_grad_norm_',
  pace: 'fast',
  workloads: ['char-lstm', 'gpt'],
  available: () => torchAvailable(),
  command: (w, counts) => ({
    file: PYTHON,
    args:
      w.kind === 'char-lstm' ? [TORCH_SCRIPT, ...workloadArgs(w, counts)] : [TORCH_GPT_SCRIPT, ...gptArgs(w, counts)],
    env: torchEnv(),
  }),
};
