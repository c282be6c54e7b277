// ganglion bench: Ganglion on each of its backends against TF.js Layers, PyTorch and onnxruntime
// on the same char-LM workload, side by side in one run, each contender in its own process. Prints
// a table, the ratios between contenders with their targets, or one JSON object with --json.
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { type FlagSpec, UsageError, parse } from '../args.js';
import { CONTENDERS, CONTENDER_NAMES } from '../bench/contenders.js';
import { computeRatios, formatReport, formatSteps, formatWorkload } from '../bench/report.js';
import { type ContenderResult, runContender } from '../bench/run-contender.js';
import { FULL_WORKLOAD, QUICK_WORKLOAD, type Workload, tokensPerStep } from '../bench/workload.js';

const FLAGS: FlagSpec = { quick: { type: 'boolean' }, json: { type: 'boolean' }, only: { type: 'string' }, save: { type: 'string' }, help: { type: 'boolean', short: 'h' } };

const BENCH_HELP = `usage: ganglion bench [--quick] [--json] [--only NAME,...] [--save FILE]
Times a training step and a forward pass of the reference char-LM (Embedding 64 -> LSTM 256 ->
LSTM 256 -> Dense 65, seq 64, batch 32) for every contender that can run here, each in its own
process, and prints a table, the ratios between them and each process's peak resident set.
  --quick   a small variant of the workload (LSTM 64, seq 16, batch 8): seconds instead of minutes
  --json    print one JSON object with every result instead of the table
  --only    run only these contenders: ${CONTENDER_NAMES.join(', ')}
  --save    also write the JSON object to FILE (to keep a run next to its table)
The full run takes about 4 minutes on 2 cores: tfjs cpu needs 12 to 25 s a step.`;

type Io = { stdout: { write(s: string): unknown }; stderr?: { write(s: string): unknown } };

export async function benchCommand(argv: readonly string[], io: Io): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'bench');
  if (values.help) {
    io.stdout.write(`${BENCH_HELP}\n`);
    return;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const only = values.only === undefined ? undefined : String(values.only).split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) {
    if (!CONTENDER_NAMES.includes(name)) throw new UsageError(`--only: unknown contender ${JSON.stringify(name)} (contenders: ${CONTENDER_NAMES.join(', ')})`);
  }
  if (only?.length === 0) throw new UsageError(`--only: expected a comma-separated list of contenders (${CONTENDER_NAMES.join(', ')})`);
  const workload = values.quick ? QUICK_WORKLOAD : FULL_WORKLOAD;
  const chosen = CONTENDERS.filter((c) => !only || only.includes(c.name));
  const log = (s: string) => io.stderr?.write(`${s}\n`);
  const timeoutMs = workload.name === 'quick' ? 180_000 : 1_800_000;
  const started = new Date();
  const loadAtStart = loadavg()[0];

  log(formatWorkload(workload));
  if (loadAtStart > 0.5) log(`note: the 1-minute load average is ${loadAtStart.toFixed(1)} before the first contender starts; other programs are using the cores and the times will suffer`);
  const results: ContenderResult[] = [];
  for (const [i, c] of chosen.entries()) {
    log(`[${i + 1}/${chosen.length}] ${c.name} (${c.backend}) ...`);
    const r = await runContender(c, workload, { timeoutMs });
    results.push(r);
    log(r.status === 'ok' ? `    steps (train / forward) ${formatSteps(r)}, ${r.wallSeconds!.toFixed(1)} s in all` : `    ${r.status === 'failed' ? 'FAILED' : 'not run'}: ${r.reason}`);
  }
  const ratios = computeRatios(results);
  const command = ['ganglion', 'bench', ...argv].join(' ');
  const report = {
    command,
    date: started.toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform} ${process.arch}`, node: process.version, loadAverageAtStart: loadAtStart },
    workload: { ...workloadShape(workload), tokensPerStep: tokensPerStep(workload) },
    contenders: results,
    ratios,
  };
  if (typeof values.save === 'string') await writeFile(values.save, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const machine = `${report.machine.cpu}, ${report.machine.cores} cores, node ${process.version}, load average ${loadAtStart.toFixed(1)} at the start`;
  io.stdout.write(`${command} — ${report.date} — ${machine}\n${formatReport(results, ratios, workload)}\n`);
}

/** The workload's shape without the per-pace step counts (each contender reports its own). */
function workloadShape(w: Workload): Omit<Workload, 'steps'> {
  const { steps: _steps, ...shape } = w;
  return shape;
}
