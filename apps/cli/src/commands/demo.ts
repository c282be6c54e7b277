// ganglion demo: the README's first command. Trains the demo language model on Moby-Dick within a
// time budget, saves the checkpoint, writes the loss curve and prints generated text.
import { type FlagSpec, parse, num } from '../args.js';
import { JsonProgress, type ProgressSink, TextProgress } from '../progress.js';
import { join } from 'node:path';
import { ExportError } from '@ganglion/core';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { generate, runtimeModel } from '@ganglion/core';
import { loadOnnxFile } from '../onnx-models.js';
import { runExport } from './export.js';
import { runGenerate } from './generate.js';
import { runTrain, trainSettings } from './train.js';

const FLAGS: FlagSpec = {
  'time-budget': { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  preset: { type: 'string' },
  backend: { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const DEMO_HELP = `usage: ganglion demo [--time-budget SECONDS] [--preset NAME] [--out DIR [--overwrite]] [--backend NAME] [--seed N] [--json]
Trains the char-lstm preset (or --preset char-gpt, ...) on Moby-Dick for --time-budget seconds
(default 210; the training step compiled to ONNX and run in onnxruntime), saves the checkpoint in
--out (default runs/demo), writes the loss curve, prints generated text, exports the model to ONNX
(stateful) and checks that onnxruntime's greedy generation from the file equals the framework's.
It replaces its own earlier run in runs/demo; an --out that holds a checkpoint needs --overwrite.`;

export async function demoCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown; isTTY?: boolean } },
): Promise<void> {
  const { values } = parse(argv, FLAGS, 'demo');
  if (values.help) {
    io.stdout.write(`${DEMO_HELP}\n`);
    return;
  }
  const budget = num('time-budget', values['time-budget'], 210, { min: 0, exclusiveMin: true });
  const passThrough = argv.filter(
    (a, i) => !['--json'].includes(a) && !(a === '--time-budget' || argv[i - 1] === '--time-budget'),
  );
  // The demo replaces its own earlier run in runs/demo; a folder the user names is theirs to protect.
  const s = trainSettings(passThrough, {
    preset: 'char-lstm',
    out: 'runs/demo',
    timeBudget: budget,
    seed: 0,
    overwrite: values.out === undefined,
  });
  if (s === 'help') return;
  const json = Boolean(values.json);
  const sink: ProgressSink = json
    ? new JsonProgress((l) => io.stdout.write(`${l}\n`))
    : new TextProgress(io.stdout, { seconds: budget });
  sink.note(`Ganglion demo: training the ${s.preset} preset on Moby-Dick for ${budget} s`);
  const r = await runTrain(s, sink);
  sink.note(`checkpoint: ${r.out}`);
  sink.note(`loss curve: ${r.images.join(', ')}`);
  if (r.valBitsPerChar !== undefined)
    sink.note(`validation (held-out chapters): ${r.valBitsPerChar.toFixed(3)} bits per character`);
  const prompt = 'Call me Ishmael. ';
  const seed = s.seed ?? 0;
  sink.note(`generated text (prompt ${JSON.stringify(prompt)}, temperature 0.7, seed ${seed}):`);
  let text = '';
  await runGenerate({ dir: r.out, prompt, maxTokens: 400, temperature: 0.7, seed, backend: 'tfjs' }, (t) => {
    text += t;
    if (!json) io.stdout.write(t);
  });
  if (json) sink.note(text);
  else io.stdout.write('\n');

  // Export, then check the export: greedy generation in onnxruntime from the file alone must equal
  // the framework's greedy generation, character for character.
  const onnxPath = join(r.out, 'model.onnx');
  await runExport({ dir: r.out, out: onnxPath, opset: 17, stateful: true });
  sink.note(`ONNX export: ${onnxPath}`);
  const checkTokens = 200;
  const greedy = { temperature: 0, seed: 0 };
  const framework = await loadModel(r.out, await createBackend('tfjs'));
  const expected = await generate(runtimeModel(framework.runtime), framework.tokenizer, prompt, checkTokens, greedy);
  const exported = await loadOnnxFile(onnxPath);
  const actual = await generate(exported.model, exported.tokenizer, prompt, checkTokens, greedy);
  const firstDiff = [...expected].findIndex((c, i) => c !== [...actual][i]);
  if (firstDiff >= 0) {
    throw new ExportError(
      `ONNX check failed: onnxruntime's greedy generation differs from the framework's at character ${firstDiff}: ${JSON.stringify(actual.slice(0, firstDiff + 20))} vs ${JSON.stringify(expected.slice(0, firstDiff + 20))}`,
    );
  }
  sink.note(
    `ONNX check: greedy generation of ${checkTokens} characters in onnxruntime (from the .onnx file alone) equals the framework's`,
  );
  sink.note(`try: npx ganglion run ${onnxPath} --prompt "Call me Ishmael. "`);
}
