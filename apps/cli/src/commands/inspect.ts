// ganglion inspect: a checkpoint's model as a summary table and a Mermaid graph, plus its metadata.
import { join } from 'node:path';
import { type FlagSpec, UsageError, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { describeTokenizer } from '../tokenizers.js';

const FLAGS: FlagSpec = { help: { type: 'boolean', short: 'h' } };
const INSPECT_HELP =
  'usage: ganglion inspect DIR\nPrints the summary table and the Mermaid graph of the checkpoint in DIR.';

export async function inspectCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'inspect');
  if (values.help) {
    io.stdout.write(`${INSPECT_HELP}\n`);
    return;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected one checkpoint directory, got ${positionals.length} arguments\n${INSPECT_HELP}`);
  const { checkpoint, tokenizer } = await loadModel(positionals[0], await createBackend('reference'));
  const m = checkpoint.meta;
  const lines = [
    `checkpoint: ${checkpoint.loadedFrom}`,
    `step ${m.step}, epoch ${m.epoch}${m.preset ? `, preset ${String(m.preset)}` : ''}${m.corpus ? `, corpus ${String(m.corpus)}` : ''}`,
    `tokenizer: ${describeTokenizer(tokenizer)}${m.optimizer ? `; optimizer ${m.optimizer.name} (state in ${join(checkpoint.loadedFrom, 'optimizer.safetensors')})` : ''}`,
    '',
    checkpoint.graph.summary(),
    '',
    '```mermaid',
    checkpoint.graph.toMermaid(),
    '```',
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
}
