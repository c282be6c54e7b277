// The ratios and the table, from hand-made results: the best candidate of a side is used, a
// missing contender is named, targets (and aims) are checked per workload kind, and peak RSS
// compares like processes.
import { describe, expect, test } from 'vitest';
import { computeRatios, formatReport } from './report.js';
import type { ContenderResult } from './run-contender.js';
import { formatSummary } from './summary.js';
import { GPT_WORKLOADS, QUICK_WORKLOAD } from './workload.js';

function result(
  name: string,
  m: { train?: number; forward?: number; rss?: number; params?: number; status?: ContenderResult['status'] },
): ContenderResult {
  return {
    name,
    framework: name.startsWith('ganglion') ? 'ganglion' : 'tfjs-layers',
    backend: 'somewhere',
    description: name,
    status: m.status ?? 'ok',
    reason: m.status && m.status !== 'ok' ? 'no such thing here' : null,
    steps: { warmup: 1, measured: 3, forwardWarmup: 1, forwardMeasured: 3 },
    trainStepMs: m.train ?? null,
    trainStepCpuMs: m.train ? m.train * 1.5 : null,
    trainTokensPerSecond: m.train ? 128_000 / m.train : null,
    firstStepSeconds: m.train ? 2.5 : null,
    forwardMs: m.forward ?? null,
    forwardCpuMs: m.forward ?? null,
    forwardTokensPerSecond: m.forward ? 128_000 / m.forward : null,
    peakRssMiB: m.rss ?? null,
    trainStepSamplesMs: [],
    forwardSamplesMs: [],
    wallSeconds: 1,
    loadAverage: 1.04,
    blas: null,
    paramCount: m.params ?? null,
    notes: [],
  };
}

const results = [
  result('ganglion-tfjs', { train: 300, forward: 60, rss: 400 }),
  result('ganglion-tfjs-wasm', { train: 150, forward: 20, rss: 300 }),
  result('ganglion-onnx', { train: 20, rss: 300 }),
  result('ganglion-onnx-export', { forward: 2, rss: 100 }),
  result('tfjs-layers-cpu', { train: 200, forward: 50, rss: 200 }),
  result('tfjs-layers-wasm', { status: 'failed' }),
  result('ort-pytorch', { forward: 4, rss: 80 }),
  result('pytorch', { status: 'unavailable' }),
];

describe('bench report', () => {
  const ratios = Object.fromEntries(computeRatios(results).map((r) => [r.name, r]));

  test('a speedup uses the fastest Ganglion backend', () => {
    expect(ratios['tfjs-layers-cpu / best ganglion, train step']).toMatchObject({
      numerator: 'tfjs-layers-cpu',
      denominator: 'ganglion-onnx',
      value: 10,
    });
    expect(ratios['ganglion-tfjs / tfjs-layers-cpu, train step'].value).toBe(1.5);
    expect(ratios['ganglion-onnx-export / ort-pytorch, forward'].value).toBe(0.5);
  });

  test('a ratio says whether it meets the target the issue sets', () => {
    expect(ratios['ganglion-onnx / pytorch, train step'].target).toEqual({ op: '<=', value: 0.2 });
    expect(ratios['tfjs-layers-cpu / best ganglion, train step']).toMatchObject({
      target: { op: '>=', value: 20 },
      meetsTarget: false,
    });
    expect(ratios['ganglion-onnx-export / ort-pytorch, forward'].meetsTarget).toBe(true);
    expect(ratios['ganglion-tfjs / tfjs-layers-cpu, forward']).toMatchObject({ target: null, meetsTarget: null });
  });

  test('a missing or failed contender gives no value and says which', () => {
    expect(ratios['ganglion-tfjs-wasm / tfjs-layers-wasm, train step']).toMatchObject({
      value: null,
      missing: 'no measurement of tfjs-layers-wasm',
      meetsTarget: null,
    });
    expect(ratios['ganglion-onnx / pytorch, train step']).toMatchObject({
      value: null,
      missing: 'no measurement of pytorch',
    });
  });

  test('peak RSS compares training processes with training processes, forward-only with forward-only', () => {
    expect(ratios['ganglion-tfjs / tfjs-layers-cpu, peak RSS'].value).toBe(2);
    expect(ratios['ganglion-onnx-export / ort-pytorch, peak RSS'].value).toBe(1.25);
    expect(ratios['ganglion-onnx / pytorch, peak RSS'].missing).toBe('no training measurement of pytorch');
  });

  test('the table has a row per contender that ran and a line per one that did not', () => {
    const text = formatReport(results, computeRatios(results), QUICK_WORKLOAD);
    expect(text).toMatch(
      /^ganglion-tfjs-wasm +somewhere +1\+3 \/ 1\+3 +150 +225 +853 +2\.5 +20\.0 +20\.0 +300 +1\.0$/m,
    );
    expect(text).toMatch(/^ganglion-onnx-export +somewhere +— \/ 1\+3 +— +— +— +— +2\.0 +2\.0 +100 +1\.0$/m);
    expect(text).toContain('tfjs-layers-wasm: FAILED: no such thing here');
    expect(text).toContain('pytorch: not run: no such thing here');
    expect(text).toMatch(
      /tfjs-layers-cpu \/ best ganglion, train step +10\.00x \(best: ganglion-onnx\) \[target >= 20: NOT met\]/,
    );
    expect(text).toMatch(/ganglion-onnx-export \/ ort-pytorch, forward +0\.50x \[target <= 1\.1: met\]/);
  });

  test('the BLAS a contender reports stands next to where it runs', () => {
    const torch = {
      ...result('pytorch', { train: 500, forward: 200, rss: 320 }),
      backend: 'torch cpu, 2 threads',
      blas: 'OpenBLAS 0.3.21, Zen kernels',
    };
    expect(formatReport([torch], computeRatios([torch]), QUICK_WORKLOAD)).toMatch(
      /^pytorch +torch cpu, 2 threads, OpenBLAS 0\.3\.21, Zen kernels +1\+3 \/ 1\+3 +500 /m,
    );
  });
});

describe('bench report on a GPT workload', () => {
  const w = GPT_WORKLOADS['gpt-0.8m'];
  const gpt = [
    result('ganglion-onnx', { train: 300, rss: 900, params: 821_120 }),
    result('pytorch', { train: 1000, forward: undefined, rss: 1000, params: 821_120 }),
    result('tfjs-layers-cpu', { status: 'unavailable' }),
  ];
  const ratios = computeRatios(gpt, 'gpt');

  test('only ganglion-onnx against pytorch, time against 0.5 and memory against 1 with the aim 0.8', () => {
    expect(ratios.map((r) => [r.name, r.value, r.meetsTarget, r.meetsAim])).toEqual([
      ['ganglion-onnx / pytorch, train step', 0.3, true, null],
      ['ganglion-onnx / pytorch, peak RSS', 0.9, true, false],
    ]);
  });

  test('the table prints the step counts, the parameter counts and the aim', () => {
    const text = formatReport(gpt, ratios, w);
    expect(text).toContain(
      'learned positions, tied head, 821,120 parameters; context 128, batch 8 (1,024 tokens a step)',
    );
    expect(text).toContain('2 warm-up + 10 measured training steps');
    expect(text).toContain('parameters: ganglion-onnx 821,120, pytorch 821,120 (the same)');
    expect(text).toMatch(/ganglion-onnx \/ pytorch, train step +0\.30x \[target <= 0\.5: met\]/);
    expect(text).toMatch(/ganglion-onnx \/ pytorch, peak RSS +0\.90x \[target <= 1: met, aim <= 0\.8: NOT met\]/);
    expect(formatReport([gpt[0], { ...gpt[1], paramCount: 821_121 }], ratios, w)).toContain('(they DIFFER)');
  });

  test('the summary has a row per workload with both sides and both ratios', () => {
    const run = (name: 'gpt-0.8m' | 'gpt-5m') => ({
      workload: { ...GPT_WORKLOADS[name], tokensPerStep: 1024 },
      contenders: gpt,
      ratios,
    });
    const lines = formatSummary([run('gpt-0.8m'), run('gpt-5m')]).split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[4]).toMatch(
      /^gpt-0\.8m +821,120 +300\.0 \/ 1,000\.0 +0\.30x \[target <= 0\.5: met\] +2\.5 \/ 2\.5 +900 \/ 1,000 +0\.90x \[target <= 1: met, aim <= 0\.8: NOT met\]$/,
    );
    expect(lines[5]).toMatch(/^gpt-5m /);
  });
});
