// The bench itself, as `ganglion bench` runs it: one workload (or the four GPTs in sequence), each
// chosen contender in its own process, one after another; then the table and ratios of each
// workload (and, for several, a summary), or one JSON object with everything. The tokenizer
// workload has tasks instead of model contenders (tokenizer-bench.ts) and a report of its own.
//
//   await runBench({ workload: 'gpt-0.8m', json: false, command: 'ganglion bench --workload gpt-0.8m' }, { stdout: process.stdout, stderr: process.stderr });
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { CONTENDERS } from './contenders.js';
import { type RatioResult, computeRatios, formatReport, formatSteps, formatWorkload } from './report.js';
import { type ContenderResult, runContender } from './run-contender.js';
import { formatSummary } from './summary.js';
import { formatTokenizerReport, runTokenizerTasks, tokenizerRatios, tokenizerTargets } from './tokenizer-bench.js';
import {
  FULL_WORKLOAD,
  GPT_WORKLOADS,
  GPT_WORKLOAD_NAMES,
  FINETUNE_WORKLOAD_NAMES,
  QUICK_WORKLOAD,
  type Workload,
  tokensPerStep,
} from './workload.js';

/** What `--workload` accepts: the char-LSTM, one GPT, the four GPTs in sequence, or the tokenizers. */
export const WORKLOAD_CHOICES = [
  'char-lstm',
  ...GPT_WORKLOAD_NAMES,
  'all-gpt',
  ...FINETUNE_WORKLOAD_NAMES,
  'finetune',
  'tokenizer',
] as const;
export type WorkloadChoice = (typeof WORKLOAD_CHOICES)[number];

export interface BenchOptions {
  readonly workload: WorkloadChoice;
  /** The small char-LSTM (char-lstm only). */
  readonly quick?: boolean;
  /** Run only these contenders (default: all). */
  readonly only?: readonly string[];
  /** Print one JSON object instead of the tables. */
  readonly json: boolean;
  /** Also write the JSON object to this file. */
  readonly save?: string;
  /** The command line, recorded in the report. */
  readonly command: string;
}

type Io = { stdout: { write(s: string): unknown }; stderr?: { write(s: string): unknown } };

/** One workload's results: what the table, the ratios and the JSON are made from. */
export interface WorkloadRun {
  readonly workload: Omit<Workload, 'steps'> & { readonly tokensPerStep: number };
  readonly contenders: readonly ContenderResult[];
  readonly ratios: readonly RatioResult[];
}

function workloadsOf(choice: Exclude<WorkloadChoice, 'tokenizer'>, quick = false): Workload[] {
  if (choice === 'char-lstm') return [quick ? QUICK_WORKLOAD : FULL_WORKLOAD];
  if (choice === 'all-gpt') return GPT_WORKLOAD_NAMES.map((n) => GPT_WORKLOADS[n]);
  if (choice === 'finetune') return FINETUNE_WORKLOAD_NAMES.map((n) => GPT_WORKLOADS[n]);
  return [GPT_WORKLOADS[choice]];
}

function machineFacts(loadAtStart: number) {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    loadAverageAtStart: loadAtStart,
    /** glibc's tunables, which every contender's process inherits (`ganglion bench` sets malloc's). */
    glibcTunables: process.env.GLIBC_TUNABLES ?? null,
  };
}

/** The header line of a text report: the command, when, and on what. */
function reportHead(o: BenchOptions, started: Date, machine: ReturnType<typeof machineFacts>): string {
  const malloc = machine.glibcTunables ? `, GLIBC_TUNABLES=${machine.glibcTunables}` : '';
  const where = `${machine.cpu}, ${machine.cores} cores, node ${process.version}, load average ${machine.loadAverageAtStart.toFixed(1)} at the start${malloc}`;
  return `${o.command} — ${started.toISOString()} — ${where}`;
}

export async function runBench(o: BenchOptions, io: Io): Promise<void> {
  const log = (s: string) => io.stderr?.write(`${s}\n`);
  const started = new Date();
  const loadAtStart = loadavg()[0];
  if (loadAtStart > 0.5)
    log(
      `note: the 1-minute load average is ${loadAtStart.toFixed(1)} before the first contender starts; other programs are using the cores and the times will suffer`,
    );
  if (o.workload === 'tokenizer') return runTokenizerBench(o, io, started, loadAtStart);
  const workloads = workloadsOf(o.workload, o.quick);
  const chosen = CONTENDERS.filter((c) => !o.only || o.only.includes(c.name));

  const runs: WorkloadRun[] = [];
  for (const w of workloads) {
    log(formatWorkload(w));
    const timeoutMs = w.name === 'quick' ? 180_000 : w.kind === 'gpt' ? 900_000 : 1_800_000;
    const results: ContenderResult[] = [];
    for (const [i, c] of chosen.entries()) {
      log(`[${i + 1}/${chosen.length}] ${c.name} (${c.backend}) ...`);
      const r = await runContender(c, w, { timeoutMs });
      results.push(r);
      log(
        r.status === 'ok'
          ? `    steps (train / forward) ${formatSteps(r)}, ${r.wallSeconds!.toFixed(1)} s in all`
          : `    ${r.status === 'failed' ? 'FAILED' : 'not run'}: ${r.reason}`,
      );
    }
    const { steps: _steps, ...shape } = w;
    runs.push({
      workload: { ...shape, tokensPerStep: tokensPerStep(w) },
      contenders: results,
      ratios: computeRatios(results, w.kind, w.kind === 'gpt' && w.timeTarget !== undefined ? w.timeTarget : 0.5),
    });
  }

  const machine = machineFacts(loadAtStart);
  const head = { command: o.command, date: started.toISOString(), machine };
  const report = runs.length === 1 ? { ...head, ...runs[0] } : { ...head, runs };
  if (o.save !== undefined) await writeFile(o.save, `${JSON.stringify(report, null, 2)}\n`);
  if (o.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const tables = runs.map((r, i) => formatReport(r.contenders, r.ratios, workloads[i]));
  if (runs.length > 1) tables.push(formatSummary(runs));
  io.stdout.write(`${reportHead(o, started, machine)}\n${tables.join('\n\n')}\n`);
}

/** The tokenizer workload: its tasks, then its own report (or JSON). */
async function runTokenizerBench(o: BenchOptions, io: Io, started: Date, loadAtStart: number): Promise<void> {
  const tasks = await runTokenizerTasks(o.only, (s) => io.stderr?.write(`${s}\n`));
  const machine = machineFacts(loadAtStart);
  const report = {
    command: o.command,
    date: started.toISOString(),
    machine,
    workload: { name: 'tokenizer' },
    tasks,
    ratios: tokenizerRatios(tasks),
    targets: tokenizerTargets(tasks),
  };
  if (o.save !== undefined) await writeFile(o.save, `${JSON.stringify(report, null, 2)}\n`);
  if (o.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  io.stdout.write(`${reportHead(o, started, machine)}\n${formatTokenizerReport(tasks)}\n`);
}
