// `ganglion bench --quick --json` on the JavaScript contenders, run through the built binary: the
// JSON has one entry per contender with positive timings, and the ratios between them. Speed is
// measured, not asserted.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { MALLOC_TUNABLES, onGlibc } from '../src/malloc-tunables.js';

const BIN = fileURLToPath(new URL('../bin/ganglion.js', import.meta.url));
const JS_CONTENDERS = [
  'ganglion-tfjs',
  'ganglion-tfjs-wasm',
  'ganglion-reference',
  'tfjs-layers-cpu',
  'tfjs-layers-wasm',
];

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'bench', ...args],
      { timeout: 150_000, maxBuffer: 16 * 2 ** 20, env: { ...process.env, GLIBC_TUNABLES: '' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('ganglion bench', () => {
  test('--quick --json --only the JS contenders: one JSON object, positive timings', { timeout: 180_000 }, async () => {
    const r = await bench(['--quick', '--json', '--only', JS_CONTENDERS.join(',')]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report).sort()).toEqual(['command', 'contenders', 'date', 'machine', 'ratios', 'workload']);
    expect(report.workload).toMatchObject({
      name: 'quick',
      vocab: 65,
      tokensPerStep: report.workload.batch * report.workload.seqLen,
    });
    expect(report.machine.cores).toBeGreaterThan(0);
    // The bench (and so every contender's process) runs with glibc's malloc tuned (src/malloc-tunables.ts).
    if (process.platform === 'linux' && onGlibc()) expect(report.machine.glibcTunables).toBe(MALLOC_TUNABLES);
    expect(report.contenders.map((c: { name: string }) => c.name)).toEqual(JS_CONTENDERS);
    for (const c of report.contenders) {
      expect(c.status, `${c.name}: ${c.reason}`).toBe('ok');
      expect(c.steps).toEqual({ warmup: 1, measured: 3, forwardWarmup: 1, forwardMeasured: 3 });
      expect(c.trainStepSamplesMs).toHaveLength(3);
      expect(c.forwardSamplesMs).toHaveLength(3);
      for (const v of [
        c.trainStepMs,
        c.trainTokensPerSecond,
        c.forwardMs,
        c.forwardTokensPerSecond,
        c.peakRssMiB,
        ...c.trainStepSamplesMs,
        ...c.forwardSamplesMs,
      ]) {
        expect(v).toBeGreaterThan(0);
      }
      expect(c.trainTokensPerSecond).toBeCloseTo((report.workload.tokensPerStep * 1000) / c.trainStepMs, 6);
    }
    const ratio = (name: string) => report.ratios.find((x: { name: string }) => x.name === name);
    expect(ratio('ganglion-tfjs / tfjs-layers-cpu, train step').value).toBeGreaterThan(0);
    expect(ratio('ganglion-tfjs-wasm / tfjs-layers-wasm, peak RSS').value).toBeGreaterThan(0);
    expect(ratio('tfjs-layers-cpu / best ganglion, train step').denominator).toMatch(/^ganglion-tfjs/);
    // Not asked for: no measurement, and the reason says which contender is missing.
    expect(ratio('ganglion-onnx / pytorch, train step')).toMatchObject({
      value: null,
      missing: expect.stringContaining('ganglion-onnx'),
    });
  });

  test('an unknown workload is a one-line usage error naming the known ones', async () => {
    const r = await bench(['--workload', 'gpt-1b']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /--workload: unknown workload "gpt-1b" \(workloads: char-lstm, gpt-0\.8m, gpt-5m, gpt-25m, gpt-85m, all-gpt, gpt2-small, gpt2-small-lora, finetune, tokenizer\)/,
    );
  });

  test('--quick with a GPT workload is a usage error', async () => {
    const r = await bench(['--workload', 'gpt-5m', '--quick']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--quick applies to --workload char-lstm only, not gpt-5m/);
  });

  test('an unknown contender is a usage error naming the known ones', async () => {
    const r = await bench(['--only', 'ganglion-tfjs,pytorch-gpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--only: unknown contender "pytorch-gpu" \(contenders: ganglion-tfjs, .*pytorch/);
  });
});
