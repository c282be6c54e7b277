// The PyTorch contender's child environment: the OpenBLAS overrides some machines set are dropped
// from the child's copy (built by torchEnv and passed through by the runner), and the parent's own
// environment keeps them.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ProcessContender } from '../contender.js';
import { runContender } from '../run-contender.js';
import { QUICK_WORKLOAD } from '../workload.js';
import { OPENBLAS_OVERRIDES, pytorchContender, torchEnv } from './pytorch.js';

describe('the PyTorch child environment', () => {
  const saved = Object.fromEntries(OPENBLAS_OVERRIDES.map((v) => [v, process.env[v]]));
  beforeEach(() => {
    process.env.OPENBLAS_CORETYPE = 'Prescott';
    process.env.OPENBLAS_L2_SIZE = '262144';
  });
  afterEach(() => {
    for (const [v, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[v];
      else process.env[v] = value;
    }
  });

  test("the contender's command has neither OpenBLAS override, even when the parent has both", () => {
    const { env } = pytorchContender.command(QUICK_WORKLOAD, QUICK_WORKLOAD.steps.fast);
    expect(env).toBeDefined();
    for (const v of OPENBLAS_OVERRIDES) expect(env).not.toHaveProperty(v);
    expect(env?.PATH).toBe(process.env.PATH);
    expect(torchEnv()).toEqual(env);
    expect(process.env.OPENBLAS_CORETYPE).toBe('Prescott');
    expect(process.env.OPENBLAS_L2_SIZE).toBe('262144');
  });

  test('the runner starts a process contender in the environment its command gives', { timeout: 30_000 }, async () => {
    const report = `process.stdout.write(JSON.stringify({ forwardSamplesMs: [1], notes: ${JSON.stringify(OPENBLAS_OVERRIDES)}.map((v) => v + '=' + (process.env[v] ?? 'unset')) }))`;
    const probe: ProcessContender = {
      kind: 'process',
      name: 'env-probe',
      framework: 'pytorch',
      backend: 'node',
      description: 'prints the OpenBLAS overrides it sees',
      pace: 'fast',
      available: async () => true,
      command: () => ({ file: process.execPath, args: ['-e', report], env: torchEnv() }),
    };
    const r = await runContender(probe, QUICK_WORKLOAD, { timeoutMs: 20_000 });
    expect(r.reason).toBeNull();
    expect(r.notes).toEqual(['OPENBLAS_CORETYPE=unset', 'OPENBLAS_L2_SIZE=unset']);
  });
});
