// ganglion generate: stream text from a checkpoint, token by token, the recurrent state carried
// between waves (no re-running of the prefix). The default backend is onnxruntime, the fastest.
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { BACKENDS, createBackend } from '../container.js';
import { PREFILL_CHUNK, generate, runtimeModel } from '@ganglion/core';
import { runnerModel } from '../onnx-models.js';
import { checkPrompt } from '../prompt.js';

const GENERATE_BACKENDS = BACKENDS;
/** What an export covers by default (`ganglion export --max-positions`). */

export const GENERATE_FLAGS: FlagSpec = {
  prompt: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const GENERATE_HELP = `usage: ganglion generate DIR [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed N] [--backend ${GENERATE_BACKENDS.join('|')}]
Generates text from the checkpoint in DIR. --temperature 0 is greedy; --top-k keeps the K most likely
characters, --top-p the fewest whose probability reaches P. The same checkpoint, prompt and seed
always give the same text. --backend: onnx (the default, the fastest) runs the model in
onnxruntime; tfjs, tfjs-wasm and reference run it in the framework. The prompt is fed in chunks of
${PREFILL_CHUNK} characters, so a long prompt costs time, not memory.`;

export interface GenerateSettings {
  readonly dir: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed: number;
  readonly backend: (typeof GENERATE_BACKENDS)[number];
}

function generateSettings(argv: readonly string[]): GenerateSettings | 'help' {
  const { values, positionals } = parse(argv, GENERATE_FLAGS, 'generate');
  if (values.help) return 'help';
  if (positionals.length !== 1)
    throw new UsageError(`expected one checkpoint directory, got ${positionals.length} arguments\n${GENERATE_HELP}`);
  return {
    dir: positionals[0],
    prompt: (values.prompt as string | undefined) ?? 'The ',
    maxTokens: num('max-tokens', values['max-tokens'], 200, { min: 1, integer: true }),
    temperature: num('temperature', values.temperature, 0.8, { min: 0 }),
    topK: values['top-k'] === undefined ? undefined : num('top-k', values['top-k'], 0, { min: 1, integer: true }),
    topP:
      values['top-p'] === undefined
        ? undefined
        : num('top-p', values['top-p'], 1, { min: 0, max: 1, exclusiveMin: true }),
    seed: num('seed', values.seed, 0, { integer: true }),
    backend: oneOf('backend', values.backend, GENERATE_BACKENDS, 'onnx'),
  };
}

/** Generate, writing tokens as they come; returns the generated text (without the prompt). */
export async function runGenerate(s: GenerateSettings, write: (text: string) => void): Promise<string> {
  const model = await loadModel(s.dir, await createBackend(s.backend === 'onnx' ? 'reference' : s.backend));
  checkPrompt(model.tokenizer, s.prompt);
  write(s.prompt);
  const tokens =
    s.backend === 'onnx' ? runnerModel(model.checkpoint.graph, model.checkpoint.params) : runtimeModel(model.runtime);
  return generate(
    tokens,
    model.tokenizer,
    s.prompt,
    s.maxTokens,
    { temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed },
    write,
  );
}

export async function generateCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const s = generateSettings(argv);
  if (s === 'help') {
    io.stdout.write(`${GENERATE_HELP}\n`);
    return;
  }
  await runGenerate(s, (t) => io.stdout.write(t));
  io.stdout.write('\n');
}
