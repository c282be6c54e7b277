// `ganglion bench --workload tokenizer`: each tokenizer task in its own process (child.ts), one
// after another, then one report: training time and peak RSS of Ganglion's BPE trainer, encoding
// speed of Ganglion, @huggingface/tokenizers and js-tiktoken on the same text with the same
// vocabulary (and whether their ids agree), the ratios between them and the targets.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BenchError } from './contender.js';
import { lastLines, supervise } from './run-contender.js';
import type { TokenizerChildMessage } from './tokenizer-tasks.js';
import {
  TOKENIZER_TARGETS,
  TOKENIZER_TASKS,
  TOKENIZER_VOCAB,
  type TokenizerTarget,
  type TokenizerTask,
  type TokenizerTaskOutput,
} from './tokenizer-workload.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const TIMEOUT_MS = 600_000;

export interface TokenizerTaskResult extends TokenizerTask {
  readonly status: 'ok' | 'failed';
  readonly reason: string | null;
  readonly output: TokenizerTaskOutput | null;
  /** Encoding: MB (10^6 bytes of UTF-8) a second over the measured passes, and over the first. */
  readonly encodeMBps: number | null;
  readonly coldMBps: number | null;
  readonly peakRssMiB: number | null;
  readonly wallSeconds: number;
}

export interface TargetResult extends TokenizerTarget {
  readonly measured: number | null;
  readonly met: boolean | null;
}

export interface RatioLine {
  readonly name: string;
  readonly value: number | null;
  readonly meaning: string;
}

async function runTokenizerTask(task: TokenizerTask, timeoutMs = TIMEOUT_MS): Promise<TokenizerTaskResult> {
  const t0 = performance.now();
  try {
    const child = fork(CHILD, [task.name, 'tokenizer'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [...process.execArgv, '--expose-gc'],
    });
    let message: TokenizerChildMessage | undefined;
    child.on('message', (m) => (message = m as TokenizerChildMessage));
    const output = await supervise<TokenizerTaskOutput>(child, timeoutMs, (stderr) => {
      if (!message) throw new BenchError(`the child process ended without a result${lastLines(stderr)}`);
      if (!message.ok) throw new BenchError(message.error);
      return message.output;
    });
    return resultOf(task, output, (performance.now() - t0) / 1000);
  } catch (e) {
    return {
      ...task,
      status: 'failed',
      reason: (e as Error).message,
      output: null,
      encodeMBps: null,
      coldMBps: null,
      peakRssMiB: null,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  }
}

/** A task's result from what its process reported. */
export function resultOf(task: TokenizerTask, o: TokenizerTaskOutput, wallSeconds: number): TokenizerTaskResult {
  const mbps = (s: number | undefined) => (s === undefined || s <= 0 ? null : o.textBytes / 1e6 / s);
  return {
    ...task,
    status: 'ok',
    reason: null,
    output: o,
    encodeMBps: mbps(o.encodeSeconds),
    coldMBps: mbps(o.coldSeconds),
    peakRssMiB: o.maxRssKiB === undefined ? null : o.maxRssKiB / 1024,
    wallSeconds,
  };
}

function measuredValue(r: TokenizerTaskResult | undefined, metric: TokenizerTarget['metric']): number | null {
  if (!r || r.status !== 'ok') return null;
  if (metric === 'trainSeconds') return r.output?.trainSeconds ?? null;
  if (metric === 'peakRssMiB') return r.peakRssMiB;
  return r.encodeMBps;
}

export function tokenizerTargets(results: readonly TokenizerTaskResult[]): TargetResult[] {
  return TOKENIZER_TARGETS.map((t) => {
    const measured = measuredValue(
      results.find((r) => r.name === t.task),
      t.metric,
    );
    const met = measured === null ? null : t.op === '<=' ? measured <= t.value : measured >= t.value;
    return { ...t, measured, met };
  });
}

export function tokenizerRatios(results: readonly TokenizerTaskResult[]): RatioLine[] {
  const speed = (name: string) => results.find((r) => r.name === name)?.encodeMBps ?? null;
  const ours = speed('ganglion-bpe-encode');
  const ratio = (peer: string) => {
    const p = speed(peer);
    return ours === null || p === null ? null : ours / p;
  };
  return [
    {
      name: 'ganglion / @huggingface/tokenizers, encoding MB/s',
      value: ratio('hf-tokenizers-encode'),
      meaning: 'above 1: Ganglion encodes faster',
    },
    {
      name: 'ganglion / js-tiktoken, encoding MB/s',
      value: ratio('js-tiktoken-encode'),
      meaning: 'above 1: Ganglion encodes faster',
    },
  ];
}

/** Whether the encoders gave the same ids: `yes (271,508 ids)`, or what differs. */
export function sameIds(results: readonly TokenizerTaskResult[]): string {
  const encoded = results.filter((r) => r.kind === 'encode' && r.status === 'ok' && r.output?.idsHash);
  if (encoded.length < 2) return 'n/a (fewer than two encoders ran)';
  const keys = new Set(encoded.map((r) => `${r.output!.tokens}:${r.output!.idsHash}`));
  if (keys.size === 1) return `yes (${encoded[0].output!.tokens!.toLocaleString('en-US')} ids each)`;
  return `NO: ${encoded.map((r) => `${r.name} ${r.output!.tokens} ids, hash ${r.output!.idsHash}`).join('; ')}`;
}

const num = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined
    ? '—'
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(header: string[], rows: string[][], leftColumns: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((n) => '-'.repeat(n))), ...rows.map(line)];
}

export function formatTokenizerReport(results: readonly TokenizerTaskResult[]): string {
  const ok = results.filter((r) => r.status === 'ok');
  const train = ok.filter((r) => r.kind === 'train');
  const enc = ok.filter((r) => r.kind === 'encode');
  const mib = (kib: number | undefined) => (kib === undefined ? '—' : num(kib / 1024, 0));
  const out = [
    `tokenizer workload: byte-level BPE as GPT-2's (256 bytes, <|endoftext|>, merges), ${TOKENIZER_VOCAB.toLocaleString('en-US')} tokens learned by Ganglion's trainer; ` +
      "encoding with GPT-2's vocabulary (50,257 tokens) by three libraries, one thread, each task in its own process",
  ];
  if (train.length)
    out.push(
      '',
      'training (Ganglion)',
      ...table(
        ['task', 'corpus MB', 'train s', 'MB/s', 'vocabulary', 'RSS before MiB', 'peak RSS MiB'],
        train.map((r) => [
          r.name,
          num(r.output!.textBytes / 1e6, 2),
          num(r.output!.trainSeconds, 2),
          num(r.output!.textBytes / 1e6 / r.output!.trainSeconds!, 2),
          num(r.output!.vocabSize, 0),
          mib(r.output!.rssBeforeKiB),
          num(r.peakRssMiB, 0),
        ]),
        1,
      ),
    );
  if (enc.length)
    out.push(
      '',
      `encoding (GPT-2 vocabulary; ${enc[0].output!.corpus})`,
      ...table(
        ['task', 'library', 'load s', 'first pass MB/s', 'MB/s', 'ids', 'peak RSS MiB'],
        enc.map((r) => [
          r.name,
          r.library,
          num(r.output!.loadSeconds, 2),
          num(r.coldMBps, 2),
          num(r.encodeMBps, 2),
          num(r.output!.tokens, 0),
          num(r.peakRssMiB, 0),
        ]),
        2,
      ),
      '',
      `same ids from every encoder: ${sameIds(results)}`,
    );
  const failed = results.filter((r) => r.status !== 'ok');
  if (failed.length) {
    out.push('');
    for (const r of failed) out.push(`${r.name}: FAILED: ${r.reason}`);
  }
  const ratios = tokenizerRatios(results);
  const ratioWidth = Math.max(...ratios.map((r) => r.name.length));
  out.push('', 'ratios:');
  for (const r of ratios)
    out.push(`  ${r.name.padEnd(ratioWidth)}  ${r.value === null ? 'n/a' : `${r.value.toFixed(2)}x`}  — ${r.meaning}`);
  const targets = tokenizerTargets(results);
  const targetWidth = Math.max(...targets.map((t) => t.name.length));
  out.push('', 'targets:');
  for (const t of targets) {
    const value = t.measured === null ? 'n/a' : `${num(t.measured, t.unit === 'MiB' ? 0 : 2)} ${t.unit}`;
    const verdict = t.met === null ? '' : t.met ? ': met' : ': NOT met';
    out.push(`  ${t.name.padEnd(targetWidth)}  ${value.padStart(12)}  [target ${t.op} ${t.value} ${t.unit}${verdict}]`);
  }
  if (train.length) out.push('', 'corpora:', ...train.map((r) => `  ${r.name}: ${r.output!.corpus}`));
  out.push('', 'notes:');
  for (const r of ok) for (const n of r.output!.notes ?? []) out.push(`  ${r.name}: ${n}`);
  out.push(
    '  MB: 10^6 bytes of UTF-8. first pass: the first encode, caches empty; MB/s: the median of the passes after it.',
    '  RSS before: the process with its corpus and library loaded, before the timed work; peak RSS: the whole process.',
  );
  return out.join('\n');
}

/** Every task (or those in `only`), one process each, one after another. */
export async function runTokenizerTasks(
  only: readonly string[] | undefined,
  log: (s: string) => void,
): Promise<TokenizerTaskResult[]> {
  const chosen = TOKENIZER_TASKS.filter((t) => !only || only.includes(t.name));
  const results: TokenizerTaskResult[] = [];
  for (const [i, t] of chosen.entries()) {
    log(`[${i + 1}/${chosen.length}] ${t.name} (${t.library}) ...`);
    const r = await runTokenizerTask(t);
    results.push(r);
    log(r.status === 'ok' ? `    ${r.wallSeconds.toFixed(1)} s in all` : `    FAILED: ${r.reason}`);
  }
  return results;
}
