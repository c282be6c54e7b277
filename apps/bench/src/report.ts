// The ratios the benchmark reports (each with its target), computed from the contenders' results, and the text
// report: a table of contenders, then the ratios, then the notes.
import type { ContenderResult } from './run-contender.js';
import { type Workload, type WorkloadKind, gptParamCount, tokensPerStep } from './workload.js';

type Metric = 'trainStepMs' | 'forwardMs' | 'peakRssMiB';

interface RatioSpec {
  readonly name: string;
  readonly metric: Metric;
  /** Candidates for each side; the best (lowest) measured one is used. */
  readonly numerator: readonly string[];
  readonly denominator: readonly string[];
  readonly meaning: string;
  /** For peak RSS: compare training processes (default) or forward-only ones. */
  readonly processes?: 'training' | 'inference';
  /** The target this ratio should meet, if there is one (docs/benchmarks.md lists them). */
  readonly target?: Target;
}

export interface Target {
  readonly op: '<' | '<=' | '>=';
  readonly value: number;
  /** A stricter value to aim for, on the same side. */
  readonly aim?: number;
}

const GANGLION_TRAINERS = ['ganglion-onnx', 'ganglion-tfjs-wasm', 'ganglion-tfjs'];

const ONNX_VS_TORCH = { numerator: ['ganglion-onnx'], denominator: ['pytorch'] } as const;
const ONNX_VS_TORCH_MEMORY: RatioSpec = {
  name: 'ganglion-onnx / pytorch, peak RSS',
  metric: 'peakRssMiB',
  ...ONNX_VS_TORCH,
  meaning: 'memory of the training process',
  target: { op: '<=', value: 1, aim: 0.8 },
};

/** The GPT workloads compare Ganglion's compiled step with PyTorch only; time target ≤ `time` (null: none). */
const gptRatios = (time: number | null): readonly RatioSpec[] => [
  {
    name: 'ganglion-onnx / pytorch, train step',
    metric: 'trainStepMs',
    ...ONNX_VS_TORCH,
    meaning: 'below 1: Ganglion trains faster than PyTorch',
    ...(time === null ? {} : { target: { op: '<=', value: time } as const }),
  },
  ONNX_VS_TORCH_MEMORY,
];

const CHAR_LSTM_RATIOS: readonly RatioSpec[] = [
  {
    name: 'ganglion-onnx / pytorch, train step',
    metric: 'trainStepMs',
    ...ONNX_VS_TORCH,
    meaning: 'below 1: Ganglion trains faster than PyTorch',
    target: { op: '<=', value: 0.2 },
  },
  {
    name: 'tfjs-layers-cpu / best ganglion, train step',
    metric: 'trainStepMs',
    numerator: ['tfjs-layers-cpu'],
    denominator: GANGLION_TRAINERS,
    meaning: "Ganglion's speedup over TF.js Layers on its cpu backend",
    target: { op: '>=', value: 20 },
  },
  {
    name: 'ganglion-tfjs / tfjs-layers-cpu, train step',
    metric: 'trainStepMs',
    numerator: ['ganglion-tfjs'],
    denominator: ['tfjs-layers-cpu'],
    meaning:
      'Ganglion (message runtime, its LSTM and gradient formulation) against tfjs-layers on the same tfjs cpu kernels; 1 = parity',
    target: { op: '<=', value: 1.1 },
  },
  {
    name: 'ganglion-tfjs-wasm / tfjs-layers-wasm, train step',
    metric: 'trainStepMs',
    numerator: ['ganglion-tfjs-wasm'],
    denominator: ['tfjs-layers-wasm'],
    meaning: 'the same on tfjs wasm (tfjs-layers with one-hot input there)',
    target: { op: '<=', value: 1.1 },
  },
  {
    name: 'ganglion-tfjs / tfjs-layers-cpu, forward',
    metric: 'forwardMs',
    numerator: ['ganglion-tfjs'],
    denominator: ['tfjs-layers-cpu'],
    meaning: 'forward on tfjs cpu',
  },
  {
    name: 'ganglion-tfjs-wasm / tfjs-layers-wasm, forward',
    metric: 'forwardMs',
    numerator: ['ganglion-tfjs-wasm'],
    denominator: ['tfjs-layers-wasm'],
    meaning: 'forward on tfjs wasm',
  },
  {
    name: 'ganglion-onnx-export / ort-pytorch, forward',
    metric: 'forwardMs',
    numerator: ['ganglion-onnx-export'],
    denominator: ['ort-pytorch'],
    meaning: "Ganglion's ONNX export against PyTorch's, both in onnxruntime",
    target: { op: '<=', value: 1.1 },
  },
  {
    name: 'ganglion-tfjs / tfjs-layers-cpu, peak RSS',
    metric: 'peakRssMiB',
    numerator: ['ganglion-tfjs'],
    denominator: ['tfjs-layers-cpu'],
    meaning: 'memory of the training process on tfjs cpu',
  },
  {
    name: 'ganglion-tfjs-wasm / tfjs-layers-wasm, peak RSS',
    metric: 'peakRssMiB',
    numerator: ['ganglion-tfjs-wasm'],
    denominator: ['tfjs-layers-wasm'],
    meaning: 'memory of the training process on tfjs wasm',
  },
  ONNX_VS_TORCH_MEMORY,
  {
    name: 'ganglion-onnx-export / ort-pytorch, peak RSS',
    metric: 'peakRssMiB',
    numerator: ['ganglion-onnx-export'],
    denominator: ['ort-pytorch'],
    meaning: 'memory of a process running the exported model',
    processes: 'inference',
    target: { op: '<=', value: 1.5 },
  },
];

export interface RatioResult {
  readonly name: string;
  readonly metric: Metric;
  readonly meaning: string;
  /** The contenders used (the best measured candidate of each side), or null. */
  readonly numerator: string | null;
  readonly denominator: string | null;
  readonly value: number | null;
  /** Why there is no value. */
  readonly missing: string | null;
  readonly target: Target | null;
  /** Whether the value meets the target (null: no target or no value). */
  readonly meetsTarget: boolean | null;
  /** Whether it meets the target's aim (null: no aim or no value). */
  readonly meetsAim: boolean | null;
}

/** A peak RSS compares like processes: a forward-only process has less to hold than a trainer. */
function measured(r: ContenderResult | undefined, spec: RatioSpec): number | null {
  if (!r || r.status !== 'ok') return null;
  if (spec.metric !== 'peakRssMiB') return r[spec.metric];
  const trains = r.trainStepMs !== null;
  return trains === ((spec.processes ?? 'training') === 'training') ? r.peakRssMiB : null;
}

function meets(value: number, op: Target['op'], bound: number): boolean {
  return op === '<' ? value < bound : op === '<=' ? value <= bound : value >= bound;
}

/** The ratios of a workload of this kind, from its contenders' results. */
export function computeRatios(
  results: readonly ContenderResult[],
  kind: WorkloadKind = 'char-lstm',
  timeTarget: number | null = 0.5,
): RatioResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const best = (names: readonly string[], spec: RatioSpec) => {
    let pick: { name: string; value: number } | undefined;
    for (const n of names) {
      const v = measured(byName.get(n), spec);
      if (v !== null && (!pick || v < pick.value)) pick = { name: n, value: v };
    }
    return pick;
  };
  return (kind === 'gpt' ? gptRatios(timeTarget) : CHAR_LSTM_RATIOS).map((spec) => {
    const num = best(spec.numerator, spec);
    const den = best(spec.denominator, spec);
    const value = num && den ? num.value / den.value : null;
    const lacking = [num ? undefined : spec.numerator, den ? undefined : spec.denominator]
      .filter((s) => s !== undefined)
      .map((s) => s.join(' or '));
    return {
      name: spec.name,
      metric: spec.metric,
      meaning: spec.meaning,
      numerator: num?.name ?? null,
      denominator: den?.name ?? null,
      value,
      missing: lacking.length
        ? `no ${spec.metric === 'peakRssMiB' ? `${spec.processes ?? 'training'} ` : ''}measurement of ${lacking.join(', nor of ')}`
        : null,
      target: spec.target ?? null,
      meetsTarget: value === null || !spec.target ? null : meets(value, spec.target.op, spec.target.value),
      meetsAim: value === null || spec.target?.aim === undefined ? null : meets(value, spec.target.op, spec.target.aim),
    };
  });
}

const ms = (v: number | null) => (v === null ? '—' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
const int = (v: number | null) => (v === null ? '—' : Math.round(v).toLocaleString('en-US'));
/** `3+10 / 3+10`: warm-up + measured training steps / forward passes, `—` for what it does not do. */
export const formatSteps = ({ steps: s, trainStepMs, forwardMs }: ContenderResult): string =>
  s
    ? `${trainStepMs === null ? '—' : `${s.warmup}+${s.measured}`} / ${forwardMs === null ? '—' : `${s.forwardWarmup}+${s.forwardMeasured}`}`
    : '—';

export function formatWorkload(w: Workload): string {
  const tokens = `${tokensPerStep(w).toLocaleString('en-US')} tokens a step`;
  const clip = `softmax cross-entropy, global-norm clip ${w.clipNorm}`;
  if (w.kind === 'char-lstm') {
    const lstms = Array(w.layers).fill(`LSTM ${w.units}`).join(' -> ');
    return `${w.name} workload: char LM, vocabulary ${w.vocab}, Embedding ${w.embed} -> ${lstms} -> Dense ${w.vocab}, seq ${w.seqLen}, batch ${w.batch} (${tokens}), Adam, ${clip}`;
  }
  const { warmup, measured } = w.steps.fast;
  return (
    `${w.name} workload: GPT, vocabulary ${w.vocab}, width ${w.dim}, ${w.blocks} pre-norm blocks of ${w.heads} heads, learned positions, tied head, ` +
    `${gptParamCount(w).toLocaleString('en-US')} parameters; context ${w.seqLen}, batch ${w.batch} (${tokens}); AdamW (lr ${w.lr}, weight decay ${w.weightDecay}), ${clip}; ` +
    `${warmup} warm-up + ${measured} measured training steps`
  );
}

/** `[target <= 0.5: met]`, `[target <= 1: met, aim <= 0.8: NOT met]`, or `[target >= 20]` without a value. */
export function formatTarget(r: RatioResult): string {
  if (!r.target) return '';
  const verdict = (ok: boolean | null) => (ok === null ? '' : ok ? ': met' : ': NOT met');
  const aim = r.target.aim === undefined ? '' : `, aim ${r.target.op} ${r.target.aim}${verdict(r.meetsAim)}`;
  return `[target ${r.target.op} ${r.target.value}${verdict(r.meetsTarget)}${aim}]`;
}

/** The parameter counts the contenders' processes reported, and whether they agree. */
function formatParamCounts(results: readonly ContenderResult[]): string | undefined {
  const counted = results.filter((r) => r.status === 'ok' && r.paramCount !== null);
  if (!counted.length) return undefined;
  const same = new Set(counted.map((r) => r.paramCount)).size === 1;
  const verdict = counted.length < 2 ? '' : same ? ' (the same)' : ' (they DIFFER)';
  return `parameters: ${counted.map((r) => `${r.name} ${int(r.paramCount)}`).join(', ')}${verdict}`;
}

/** A plain-text table: one row per contender that ran, then the ratios and the notes. */
export function formatReport(results: readonly ContenderResult[], ratios: readonly RatioResult[], w: Workload): string {
  const header = [
    'contender',
    'runs on',
    'steps (train / fwd)',
    'train step ms',
    'CPU ms',
    'train tok/s',
    'first step s',
    'forward ms',
    'CPU ms',
    'peak RSS MiB',
    'load',
  ];
  const seconds = (v: number | null) => (v === null ? '—' : v.toFixed(1));
  const rows = results
    .filter((r) => r.status === 'ok')
    .map((r) => [
      r.name,
      r.blas ? `${r.backend}, ${r.blas}` : r.backend,
      formatSteps(r),
      ms(r.trainStepMs),
      ms(r.trainStepCpuMs),
      int(r.trainTokensPerSecond),
      seconds(r.firstStepSeconds),
      ms(r.forwardMs),
      ms(r.forwardCpuMs),
      int(r.peakRssMiB),
      r.loadAverage === null ? '—' : r.loadAverage.toFixed(1),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [formatWorkload(w), '', line(header), line(widths.map((n) => '-'.repeat(n))), ...rows.map(line)];
  const params = formatParamCounts(results);
  if (params) out.push('', params);
  const skipped = results.filter((r) => r.status !== 'ok');
  if (skipped.length) {
    out.push('');
    for (const r of skipped) out.push(`${r.name}: ${r.status === 'failed' ? 'FAILED' : 'not run'}: ${r.reason}`);
  }
  out.push('', 'ratios (lower numerator = faster / smaller):');
  const nameWidth = Math.max(...ratios.map((r) => r.name.length));
  for (const r of ratios) {
    const best = r.name.includes('best') && r.denominator ? ` (best: ${r.denominator})` : '';
    const target = r.target ? ` ${formatTarget(r)}` : '';
    const value = r.value === null ? `n/a (${r.missing})` : `${r.value.toFixed(2)}x${best}`;
    out.push(`  ${r.name.padEnd(nameWidth)}  ${value}${target}  — ${r.meaning}`);
  }
  const notes = results.filter((r) => r.status === 'ok' && r.notes.length);
  if (notes.length) {
    out.push('', 'notes:');
    for (const r of notes) for (const n of r.notes) out.push(`  ${r.name}: ${n}`);
  }
  out.push(
    '',
    'steps: warm-up + measured calls; times are medians of the measured calls. CPU ms: CPU time of the process in those calls, all threads.',
    'first step s: from starting the process to the end of its first training step (loading, building, tracing and compiling included).',
    'peak RSS: the whole process of each contender, each in its own process.',
    "load: the machine's 1-minute load average as the contender finished; well above its own threads (1 for JS, 2 for PyTorch and onnxruntime) means other programs shared the cores.",
  );
  return out.join('\n');
}
