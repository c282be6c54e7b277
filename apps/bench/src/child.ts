// The child process of `ganglion bench`: runs one node contender (argv: NAME WORKLOAD, the
// workload by workloadNamed's name), or one task of the tokenizer workload (argv: NAME tokenizer),
// and sends its timings and its own peak resident set to the parent over the IPC channel, then exits.
import { BenchError, type ProcessOutput, measureSession } from './contender.js';
import { contenderNamed } from './contenders.js';
import { workloadNamed } from './workload.js';

export type ChildMessage =
  { readonly ok: true; readonly output: ProcessOutput } | { readonly ok: false; readonly error: string };

async function runChild(name: string, workloadName: string): Promise<ChildMessage> {
  try {
    const contender = contenderNamed(name);
    if (contender?.kind !== 'node') throw new BenchError(`no node contender named "${name}"`);
    const w = workloadNamed(workloadName);
    if (!w) throw new BenchError(`no workload named "${workloadName}"`);
    const output = await measureSession(await contender.prepare(w), w.steps[contender.pace]);
    // resourceUsage().maxRSS: this process's peak resident set in KiB (its children not included).
    return { ok: true, output: { ...output, maxRssKiB: process.resourceUsage().maxRSS } };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

if (process.send) {
  const [name = '', workloadName = 'full'] = process.argv.slice(2);
  const message =
    workloadName === 'tokenizer'
      ? await (await import('./tokenizer-tasks.js')).runTokenizerTask(name)
      : await runChild(name, workloadName);
  // Exit once the message is out: a framework's thread pool must not keep the process alive.
  process.send(message, () => process.exit(0));
}
