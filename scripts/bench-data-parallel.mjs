#!/usr/bin/env node
// Data parallel on one machine: `ganglion train --workers 2` (2 processes × 1 onnxruntime thread,
// a private nats-server) against one process with 2 threads, on the char-LSTM preset and on the
// bench's gpt-5m shape (dim 256, 6 blocks, 4 heads, 256 tokens × 8 rows), both over Moby-Dick
// (characters). Each run trains a few steps with the built CLI and --json; the report is the median
// tokens/s of the steps after the first two (tracing, warm-up), and for the 2-worker runs the
// all-reduce's time per step and bytes rank 0 sends per step (its closing "data parallel:" note).
// docs/scale.md holds the numbers of one run and the model that explains them.
//
//   node scripts/bench-data-parallel.mjs            # after `npm run build`; a few minutes on 2 cores
//   node scripts/bench-data-parallel.mjs --json     # one JSON object per result
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../apps/cli/bin/ganglion.js', import.meta.url));
const json = process.argv.includes('--json');
const dir = mkdtempSync(join(tmpdir(), 'ganglion-bench-dp-'));

const WORKLOADS = [
  { name: 'char-lstm', steps: 14, flags: ['--preset', 'char-lstm'] },
  {
    name: 'gpt-5m',
    steps: 8,
    flags: ['--preset', 'char-gpt', '--dim', '256', '--blocks', '6', '--heads', '4', '--context', '256'].concat([
      '--seq-len',
      '256',
      '--batch',
      '8',
    ]),
  },
];
const SETUPS = [
  { name: '1 process × 2 threads', flags: [] },
  { name: '2 workers × 1 thread', flags: ['--workers', '2', '--timeout', '120'] },
];

const ganglion = (args) =>
  execFileSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  ganglion(['prepare', '--out', 'moby', '--json']);
  const results = [];
  for (const w of WORKLOADS) {
    for (const setup of SETUPS) {
      const out = `${w.name}-${setup.flags.length ? 'dp' : 'single'}`;
      const lines = ganglion([
        'train',
        ...w.flags,
        '--data',
        'moby',
        '--steps',
        String(w.steps),
        '--out',
        out,
        '--json',
        ...setup.flags,
      ])
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const steps = lines.filter((e) => e.event === 'batch');
      const tokensPerSecond = median(steps.slice(2).map((e) => e.tokensPerSecond));
      const note = lines.find((e) => typeof e.text === 'string' && e.text.startsWith('data parallel:'))?.text;
      const m =
        note &&
        /all-reduces ([\d,]+) floats in ([\d.]+) ms \((\d+)% of ([\d.]+) ms\) and sends ([\d.]+ [kM]?B)/.exec(note);
      const r = {
        workload: w.name,
        setup: setup.name,
        tokensPerSecond: Math.round(tokensPerSecond),
        ...(m
          ? {
              floats: Number(m[1].replaceAll(',', '')),
              allReduceMs: Number(m[2]),
              stepMs: Number(m[4]),
              sentPerStep: m[5],
            }
          : {}),
      };
      results.push(r);
      if (json) console.log(JSON.stringify(r));
    }
  }
  if (!json) {
    console.log(`${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores; median tokens/s after 2 warm-up steps`);
    console.log('| workload | setup | tokens/s | all-reduce per step | step | rank 0 sends per step |');
    console.log('|---|---|---:|---:|---:|---:|');
    for (const r of results)
      console.log(
        `| ${r.workload} | ${r.setup} | ${r.tokensPerSecond.toLocaleString('en-US')} | ${r.allReduceMs === undefined ? '–' : `${r.allReduceMs} ms (${r.floats.toLocaleString('en-US')} floats)`} | ${r.stepMs === undefined ? '–' : `${r.stepMs} ms`} | ${r.sentPerStep ?? '–'} |`,
      );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
