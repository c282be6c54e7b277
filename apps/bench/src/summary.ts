// The summary after several workloads (`--workload all-gpt`): one row per workload with
// ganglion-onnx's and PyTorch's step time, first-step time and peak RSS, and the two ratios with
// their targets.
import { formatTarget } from './report.js';
import type { WorkloadRun } from './run-bench.js';

const fixed = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined
    ? '—'
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function formatSummary(runs: readonly WorkloadRun[]): string {
  const header = [
    'workload',
    'params',
    'step ms (ganglion-onnx / pytorch)',
    'time ratio',
    'first step s',
    'peak RSS MiB',
    'memory ratio',
  ];
  const rows = runs.map((run) => {
    const get = (name: string) => run.contenders.find((c) => c.name === name && c.status === 'ok');
    const [g, p] = [get('ganglion-onnx'), get('pytorch')];
    const ratio = (metric: string) => {
      const r = run.ratios.find((x) => x.metric === metric && x.name.startsWith('ganglion-onnx / pytorch,'));
      return r ? `${r.value === null ? 'n/a' : `${r.value.toFixed(2)}x`} ${formatTarget(r)}` : '—';
    };
    return [
      run.workload.name,
      fixed(g?.paramCount ?? p?.paramCount, 0),
      `${fixed(g?.trainStepMs, 1)} / ${fixed(p?.trainStepMs, 1)}`,
      ratio('trainStepMs'),
      `${fixed(g?.firstStepSeconds, 1)} / ${fixed(p?.firstStepSeconds, 1)}`,
      `${fixed(g?.peakRssMiB, 0)} / ${fixed(p?.peakRssMiB, 0)}`,
      ratio('peakRssMiB'),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    'summary: ganglion-onnx against pytorch (each cell: ganglion-onnx / pytorch)',
    '',
    line(header),
    line(widths.map((n) => '-'.repeat(n))),
    ...rows.map(line),
    ...loraAgainstFull(runs),
  ].join('\n');
}

/** With a LoRA workload and its full fine-tuning one: each side's peak RSS of LoRA over full. */
function loraAgainstFull(runs: readonly WorkloadRun[]): string[] {
  const peak = (workload: string, contender: string) =>
    runs.find((r) => r.workload.name === workload)?.contenders.find((c) => c.name === contender && c.status === 'ok')
      ?.peakRssMiB ?? null;
  return runs
    .filter((r) => r.workload.name.endsWith('-lora'))
    .flatMap((r) => {
      const full = r.workload.name.slice(0, -'-lora'.length);
      return ['ganglion-onnx', 'pytorch'].map((c) => {
        const [lora, all] = [peak(r.workload.name, c), peak(full, c)];
        const value = lora === null || all === null ? null : lora / all;
        const target =
          c === 'ganglion-onnx' ? ` [target <= 0.5${value === null ? '' : value <= 0.5 ? ': met' : ': NOT met'}]` : '';
        return `${c} peak RSS, ${r.workload.name} / ${full}: ${value === null ? 'n/a' : `${value.toFixed(2)}x`}${target}`;
      });
    });
}
