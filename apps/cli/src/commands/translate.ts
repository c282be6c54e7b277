// ganglion translate: pronounce words with a g2p checkpoint (train --preset g2p): one line of
// phonemes per word of --text, by greedy decoding or beam search, in onnxruntime (the default: the
// encoder and the stateful decoder step traced as `ganglion export` writes them) or in the
// framework's runtime. `ganglion run` does the same from the exported files alone (run.ts).
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { loadG2pCheckpoint } from '../g2p-train.js';
import { type G2pModel, type Seq2SeqEngine, sourceWords, translateWords } from '../g2p.js';
import { BACKENDS, createBackend } from '../container.js';
import { frameworkEngine, onnxEngine, traceSeq2Seq } from '../seq2seq-engines.js';

/** The decoding flags translate and run share. */
export const DECODING_FLAGS: FlagSpec = {
  text: { type: 'string' },
  beam: { type: 'string' },
  'length-penalty': { type: 'string' },
};

export const DECODING_HELP = `Words are split at whitespace and lower-cased; each gets one line of phonemes (CMUdict's symbols),
in order. --beam K (default 1: greedy) keeps the K most likely pronunciations while decoding, and
--length-penalty A (default 0) divides each one's log-probability by ((5 + length) / 6)^A. One-line
errors: an empty --text; a character outside the model's letters; a word longer than its positions
(the longest word its training data allows, 32 letters for CMUdict) is refused, not truncated.`;

const TRANSLATE_FLAGS: FlagSpec = {
  ...DECODING_FLAGS,
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const TRANSLATE_HELP = `usage: ganglion translate DIR --text "WORDS" [--beam K] [--length-penalty A] [--backend ${BACKENDS.join('|')}]
Pronounces words with the g2p checkpoint in DIR (ganglion train --preset g2p).
${DECODING_HELP}
--backend onnx (the default) runs the encoder and the stateful decoder step in onnxruntime, traced
as ganglion export writes them; tfjs, tfjs-wasm and reference run the framework's graphs.`;

export interface DecodingSettings {
  readonly text: string;
  readonly beam: number;
  readonly lengthPenalty: number;
}

/** --text, --beam and --length-penalty, checked (the words are checked against the model later). */
export function decodingSettings(values: Readonly<Record<string, string | boolean | undefined>>): DecodingSettings {
  if (typeof values.text !== 'string')
    throw new UsageError('--text: give the words to pronounce, e.g. --text "ganglion"');
  return {
    text: values.text,
    beam: num('beam', values.beam, 1, { min: 1, max: 64, integer: true }),
    lengthPenalty: num('length-penalty', values['length-penalty'], 0, { min: 0, max: 10 }),
  };
}

/** Pronounce the words of `s.text`, writing one line per word; the engine is closed afterwards. */
export async function pronounce(
  engine: Seq2SeqEngine,
  m: G2pModel,
  s: DecodingSettings,
  write: (line: string) => void,
): Promise<void> {
  try {
    const words = sourceWords(s.text, m);
    const phonemes = await translateWords(engine, m, words, { beam: s.beam, lengthPenalty: s.lengthPenalty });
    for (const p of phonemes) write(`${p.join(' ')}\n`);
  } finally {
    await engine.close();
  }
}

export async function translateCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, TRANSLATE_FLAGS, 'translate');
  if (values.help) {
    io.stdout.write(`${TRANSLATE_HELP}\n`);
    return;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      `expected one checkpoint directory, got ${positionals.length} arguments (see ganglion translate --help)`,
    );
  const s = decodingSettings(values);
  const backendName = oneOf('backend', values.backend, BACKENDS, 'onnx');
  const backend = await createBackend(backendName === 'onnx' ? 'reference' : backendName);
  const { checkpoint, model } = await loadG2pCheckpoint(positionals[0], backend);
  // Checked before anything runs: a bad word costs no tracing.
  sourceWords(s.text, model);
  let engine: Seq2SeqEngine;
  if (backendName === 'onnx') {
    const { encoder, decoder } = traceSeq2Seq(model, checkpoint.params);
    engine = await onnxEngine(encoder.bytes, decoder.bytes, decoder.state);
  } else {
    engine = frameworkEngine(model, checkpoint.params, backend);
  }
  await pronounce(engine, model, s, (line) => io.stdout.write(line));
}
