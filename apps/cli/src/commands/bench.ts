// ganglion bench: the flags, checked here (usage errors exit 2), then @ganglion/bench's runBench:
// Ganglion against TF.js Layers, PyTorch and onnxruntime on the char-LSTM, or against PyTorch on
// the GPT workloads, or its tokenizers against @huggingface/tokenizers and js-tiktoken, each
// contender in its own process. Prints tables and the ratios between
// contenders with their targets, or one JSON object with --json.
import { CONTENDER_NAMES, WORKLOAD_CHOICES, type WorkloadChoice, runBench } from '@ganglion/bench';
import { type FlagSpec, UsageError, parse } from '../args.js';

const FLAGS: FlagSpec = {
  workload: { type: 'string' },
  quick: { type: 'boolean' },
  json: { type: 'boolean' },
  only: { type: 'string' },
  save: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const BENCH_HELP = `usage: ganglion bench [--workload NAME] [--quick] [--json] [--only NAME,...] [--save FILE]
Times a training step (and, on the char-LSTM, a forward pass) for every contender that can run
here, each in its own process, and prints a table, the ratios between them and each process's
peak resident set.
  --workload  char-lstm (default): Embedding 64 -> LSTM 256 -> LSTM 256 -> Dense 65, seq 64, batch 32;
              gpt-0.8m, gpt-5m, gpt-25m, gpt-85m: a GPT (vocabulary 89, AdamW) of that size,
              ganglion-onnx against pytorch; all-gpt: the four in sequence, then a summary;
              tokenizer: byte-level BPE, training 8,192 tokens on Moby-Dick and on 50 MB of
              text (time, peak RSS), and encoding speed against @huggingface/tokenizers and
              js-tiktoken with GPT-2's vocabulary (about 2 minutes)
  --quick     a small char-LSTM (LSTM 64, seq 16, batch 8): seconds instead of minutes
  --json      print one JSON object with every result instead of the tables
  --only      run only these contenders: ${CONTENDER_NAMES.join(', ')}
  --save      also write the JSON object to FILE (to keep a run next to its table)
The full char-LSTM run takes about 4 minutes on 2 cores: tfjs cpu needs 12 to 25 s a step.`;

type Io = { stdout: { write(s: string): unknown }; stderr?: { write(s: string): unknown } };

export async function benchCommand(argv: readonly string[], io: Io): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'bench');
  if (values.help) {
    io.stdout.write(`${BENCH_HELP}\n`);
    return;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const workload = String(values.workload ?? 'char-lstm');
  if (!isWorkload(workload))
    throw new UsageError(
      `--workload: unknown workload ${JSON.stringify(workload)} (workloads: ${WORKLOAD_CHOICES.join(', ')})`,
    );
  if (values.quick && workload !== 'char-lstm')
    throw new UsageError(`--quick applies to --workload char-lstm only, not ${workload}`);
  const only =
    values.only === undefined
      ? undefined
      : String(values.only)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  for (const name of only ?? []) {
    if (!CONTENDER_NAMES.includes(name))
      throw new UsageError(
        `--only: unknown contender ${JSON.stringify(name)} (contenders: ${CONTENDER_NAMES.join(', ')})`,
      );
  }
  if (only?.length === 0)
    throw new UsageError(`--only: expected a comma-separated list of contenders (${CONTENDER_NAMES.join(', ')})`);
  const save = typeof values.save === 'string' ? values.save : undefined;
  await runBench(
    {
      workload,
      quick: values.quick === true,
      only,
      json: values.json === true,
      save,
      command: ['ganglion', 'bench', ...argv].join(' '),
    },
    io,
  );
}

function isWorkload(name: string): name is WorkloadChoice {
  return (WORKLOAD_CHOICES as readonly string[]).includes(name);
}
