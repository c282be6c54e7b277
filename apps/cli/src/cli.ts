// The `ganglion` command: dispatch to a subcommand; typed errors become one clear line and a
// non-zero exit status (2 for usage errors, 1 for everything else).
import { GanglionError } from '@ganglion/core';
import { UsageError } from './args.js';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { runCommand } from './commands/run.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import { trainCommand } from './commands/train.js';

const USAGE = `usage: ganglion <command> [options]

commands:
  demo       train the demo model on Moby-Dick, then generate text
  train      train a character language model
  generate   generate text from a checkpoint
  inspect    show a checkpoint's model
  bench      time training and inference against TF.js Layers, PyTorch and onnxruntime
  export     export a checkpoint to ONNX
  run        generate text from an exported ONNX file alone

Run \`ganglion <command> --help\` for a command's options.`;

type Io = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => Promise<void>> = {
  demo: demoCommand,
  train: trainCommand,
  generate: generateCommand,
  inspect: inspectCommand,
  bench: benchCommand,
  export: exportCommand,
  run: runCommand,
};

export async function main(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
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
    if (e instanceof UsageError) {
      io.stderr.write(`ganglion ${command}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof GanglionError) {
      io.stderr.write(`ganglion ${command}: ${e.name}: ${e.message}\n`);
      return 1;
    }
    io.stderr.write(`ganglion ${command}: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
