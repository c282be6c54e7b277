// The `ganglion` command: dispatch to a subcommand; every error becomes one line on stderr (no stack
// unless GANGLION_DEBUG=1) and a non-zero exit status (2 for usage errors, 1 for everything else).
import { GanglionError } from '@ganglion/core';
import { UsageError } from './args.js';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { fillMaskCommand } from './commands/fill-mask.js';
import { runCommand } from './commands/run.js';
import { generateCommand } from './commands/generate.js';
import { prepareCommand } from './commands/prepare.js';
import { inspectCommand } from './commands/inspect.js';
import { importCommand } from './commands/import.js';
import { mergeLoraCommand } from './commands/merge-lora.js';
import { trainCommand } from './commands/train.js';
import { translateCommand } from './commands/translate.js';

const USAGE = `usage: ganglion <command> [options]

commands:
  demo       train the demo model on Moby-Dick, then generate text
  prepare    turn a corpus into token files (train.bin, val.bin) for train --data
  train      train a language model
  import     import a Hugging Face model folder (GPT-2, Llama) as a checkpoint
  finetune   train a checkpoint further on your text (full, frozen parts, or LoRA)
  merge-lora fold a LoRA fine-tune's adapters into its weights
  generate   generate text from a checkpoint
  fill-mask  predict the [MASK] tokens of a text with a masked LM (train --preset bert-mini)
  translate  pronounce words with a g2p model (train --preset g2p): one line of phonemes each
  inspect    show a checkpoint's model
  bench      time training and inference against TF.js Layers, PyTorch and onnxruntime
  export     export a checkpoint to ONNX
  run        generate text (or pronounce words) from exported ONNX files alone

Run \`ganglion <command> --help\` for a command's options. Errors are one line; GANGLION_DEBUG=1
also prints where an unexpected one came from.`;

type Io = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => Promise<void>> = {
  demo: demoCommand,
  prepare: prepareCommand,
  train: trainCommand,
  import: importCommand,
  finetune: (argv, io) => trainCommand(argv, io, 'finetune'),
  'merge-lora': mergeLoraCommand,
  generate: generateCommand,
  'fill-mask': fillMaskCommand,
  translate: translateCommand,
  inspect: inspectCommand,
  bench: benchCommand,
  export: exportCommand,
  run: runCommand,
};

export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`ganglion: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
    return 2;
  }
  try {
    await run(rest, io);
    return 0;
  } catch (e) {
    io.stderr.write(`${errorLine(command, e)}\n`);
    if (process.env.GANGLION_DEBUG === '1' && !(e instanceof UsageError))
      io.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

/**
 * The one line a failed command prints. A usage error may carry the command's help after its first
 * line: the line points to --help instead. Anything else is folded onto one line; an error that is
 * not Ganglion's shows its message only (GANGLION_DEBUG=1 prints the stack after the line).
 */
export function errorLine(command: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const fold = (s: string) =>
    s
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ');
  if (e instanceof UsageError) {
    const [first, ...rest] = message.split('\n');
    return `ganglion ${command}: ${rest.length > 0 && !first.includes('--help') ? `${first} (see ganglion ${command} --help)` : first}`;
  }
  if (e instanceof GanglionError) return `ganglion ${command}: ${e.name}: ${fold(message)}`;
  return `ganglion ${command}: unexpected error: ${fold(message)}${process.env.GANGLION_DEBUG === '1' ? '' : ' (GANGLION_DEBUG=1 shows where)'}`;
}
