// ganglion run: generate from an exported stateful .onnx file alone, in onnxruntime (the
// vocabulary comes from the file's metadata_props), or pronounce words with an exported g2p model
// (its encoder file and the decoder-step file beside it; seq2seq-engines.ts).
import { type FlagSpec, UsageError, num, parse } from '../args.js';
import { generate } from '@ganglion/core';
import { loadOnnxFile } from '../onnx-models.js';
import { checkPrompt } from '../prompt.js';
import { GENERATE_FLAGS } from './generate.js';
import { isSeq2SeqFile, openSeq2SeqFiles } from '../seq2seq-engines.js';
import { DECODING_FLAGS, DECODING_HELP, decodingSettings, pronounce } from './translate.js';

// generate's flags but --backend (the file runs in onnxruntime), and --allow-external-data.
const { backend: _backend, ...GENERATION_FLAGS } = GENERATE_FLAGS;
export const RUN_FLAGS: FlagSpec = {
  ...GENERATION_FLAGS,
  ...DECODING_FLAGS,
  'allow-external-data': { type: 'boolean' },
};
const RUN_HELP = `usage: ganglion run model.onnx [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed N] [--allow-external-data]
Generates text from a stateful ONNX export (\`ganglion export DIR --out model.onnx --stateful\`) in
onnxruntime, with nothing but the file. A model whose tensors live in external files is refused
unless --allow-external-data is given, and then they are read only from the model's own folder.
       ganglion run g2p.onnx --text "WORDS" [--beam K] [--length-penalty A]
Pronounces words with a g2p export (\`ganglion export DIR --out g2p.onnx\` of a g2p checkpoint writes
the encoder, g2p.onnx, and the stateful decoder step, g2p.decoder.onnx, beside it).
${DECODING_HELP}`;

export async function runCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, RUN_FLAGS, 'run');
  if (values.help) {
    io.stdout.write(`${RUN_HELP}\n`);
    return;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected one .onnx file, got ${positionals.length} arguments (see ganglion run --help)`);
  const path = positionals[0];
  if (isSeq2SeqFile(path)) {
    const text = Object.keys(GENERATION_FLAGS).find((k) => k !== 'help' && values[k] !== undefined);
    if (text)
      throw new UsageError(`--${text}: "${path}" is a g2p export, which pronounces --text; it generates no text`);
    const { model, engine } = await openSeq2SeqFiles(path);
    await pronounce(engine, model, decodingSettings(values), (line) => io.stdout.write(line));
    return;
  }
  const stray = Object.keys(DECODING_FLAGS).find((k) => values[k] !== undefined);
  if (stray)
    throw new UsageError(
      `--${stray}: "${path}" is not a g2p export (those pronounce --text); it generates from --prompt`,
    );
  const opts = {
    temperature: num('temperature', values.temperature, 0.8, { min: 0 }),
    topK: values['top-k'] === undefined ? undefined : num('top-k', values['top-k'], 0, { min: 1, integer: true }),
    topP:
      values['top-p'] === undefined
        ? undefined
        : num('top-p', values['top-p'], 1, { min: 0, max: 1, exclusiveMin: true }),
    seed: num('seed', values.seed, 0, { integer: true }),
  };
  const maxTokens = num('max-tokens', values['max-tokens'], 200, { min: 1, integer: true });
  const prompt = (values.prompt as string | undefined) ?? 'The ';
  const { tokenizer, model } = await loadOnnxFile(positionals[0], {
    allowExternalData: Boolean(values['allow-external-data']),
  });
  checkPrompt(tokenizer, prompt);
  io.stdout.write(prompt);
  await generate(model, tokenizer, prompt, maxTokens, opts, (t) => io.stdout.write(t));
  io.stdout.write('\n');
}
