// ganglion train: train a character language model on a corpus, with live progress, checkpoints,
// validation in bits per character and a loss-curve image.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import { CharTokenizer, type Dataset, type Graph, Runtime, TOKENS, type Tensor, type TrainEvent, type Trainer, dispose, lmDataset, loadCheckpoint } from '@ganglion/core';
import { OnnxRuntimeRunner, compileTrainStep } from '@ganglion/backend-onnx';
import { type FlagSpec, UsageError, clipFlag, num, oneOf, parse } from '../args.js';
import { BACKENDS, type BackendName, buildContainer, createBackend } from '../container.js';
import { type Corpus, mobyDick, textFile } from '../corpus.js';
import { lossCurvePng, lossCurveSvg } from '../plot.js';
import { PRESETS, PRESET_NAMES } from '../presets.js';
import { JsonProgress, type ProgressSink, TextProgress } from '../progress.js';

export const TRAIN_FLAGS: FlagSpec = {
  preset: { type: 'string' },
  corpus: { type: 'string' },
  backend: { type: 'string' },
  steps: { type: 'string' },
  'time-budget': { type: 'string' },
  batch: { type: 'string' },
  'seq-len': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  clip: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const TRAIN_HELP = `usage: ganglion train [--preset ${PRESET_NAMES.join('|')}] [--corpus FILE] [--backend ${BACKENDS.join('|')}]
                      [--steps N] [--time-budget SECONDS] [--batch N] [--seq-len N] [--lr X]
                      [--optimizer adam|adamw|sgd|rmsprop|adagrad] [--clip none|value:V|norm:C|global-norm:C]
                      [--seed N] [--out DIR] [--checkpoint-every N] [--resume] [--json]
Trains a character language model (default: char-lstm on Moby-Dick, the last chapters held out)
and saves a checkpoint, the validation loss in bits per character, and loss.svg / loss.png in --out.`;

export interface TrainResult {
  readonly out: string;
  readonly steps: number;
  readonly valBitsPerChar?: number;
  readonly images: readonly string[];
  readonly tokenizer: CharTokenizer;
}

export interface TrainSettings {
  readonly preset: string;
  readonly corpus?: string;
  readonly backend: BackendName;
  readonly steps?: number;
  readonly timeBudget?: number;
  readonly batch?: number;
  readonly seqLen?: number;
  readonly lr?: number;
  readonly optimizer?: string;
  readonly clip?: string;
  readonly seed: number;
  readonly out: string;
  readonly checkpointEvery?: number;
  readonly resume: boolean;
}

export function trainSettings(argv: readonly string[], defaults: Partial<TrainSettings> = {}): TrainSettings | 'help' {
  const { values, positionals } = parse(argv, TRAIN_FLAGS, 'train');
  if (values.help) return 'help';
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const preset = oneOf('preset', values.preset, PRESET_NAMES, (defaults.preset ?? 'char-lstm') as string);
  return {
    preset,
    corpus: values.corpus as string | undefined,
    backend: oneOf('backend', values.backend, BACKENDS, defaults.backend ?? 'onnx'),
    steps: values.steps === undefined ? defaults.steps : num('steps', values.steps, 0, { min: 1, integer: true }),
    timeBudget: values['time-budget'] === undefined ? defaults.timeBudget : num('time-budget', values['time-budget'], 0, { min: 0, exclusiveMin: true }),
    batch: values.batch === undefined ? undefined : num('batch', values.batch, 0, { min: 1, integer: true }),
    seqLen: values['seq-len'] === undefined ? undefined : num('seq-len', values['seq-len'], 0, { min: 1, integer: true }),
    lr: values.lr === undefined ? undefined : num('lr', values.lr, 0, { min: 0, exclusiveMin: true }),
    optimizer: values.optimizer === undefined ? undefined : oneOf('optimizer', values.optimizer, ['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'], 'adam'),
    clip: values.clip === undefined ? undefined : (clipFlag(values.clip, 'none'), String(values.clip)),
    seed: num('seed', values.seed, 0, { integer: true }),
    out: (values.out as string | undefined) ?? defaults.out ?? join('runs', preset),
    checkpointEvery: values['checkpoint-every'] === undefined ? undefined : num('checkpoint-every', values['checkpoint-every'], 0, { min: 1, integer: true }),
    resume: Boolean(values.resume),
  };
}

export async function runTrain(s: TrainSettings, sink: ProgressSink): Promise<TrainResult> {
  const preset = PRESETS[s.preset];
  const corpus: Corpus = s.corpus ? textFile(s.corpus) : mobyDick();
  const out = resolve(s.out);
  const backend = await createBackend(s.backend);
  const clip = clipFlag(s.clip, preset.clip);
  const container = buildContainer({ backend, lr: s.lr ?? preset.lr, optimizer: s.optimizer ?? preset.optimizer, ...clip });
  const trainer: Trainer = container.get(TOKENS.Trainer);

  let graph: Graph;
  let runtime: Runtime;
  let tokenizer: CharTokenizer;
  if (s.resume && existsSync(join(out, 'meta.json'))) {
    const loaded = await loadCheckpoint(out, { resolve: container.get(TOKENS.LayerResolver), backend });
    if (!loaded.meta.tokenizer) throw new UsageError(`--resume: checkpoint ${out} has no tokenizer in meta.json`);
    tokenizer = CharTokenizer.fromJSON(loaded.meta.tokenizer);
    graph = loaded.graph;
    runtime = new Runtime(graph, { params: loaded.params, backend });
    if (loaded.optimizerState) trainer.optimizer.setState(loaded.optimizerState, backend);
    trainer.resumeFrom(loaded.meta);
    sink.note(`resuming ${out} at step ${trainer.step}`);
  } else {
    tokenizer = CharTokenizer.fromText(corpus.train + corpus.validation);
    graph = preset.build(tokenizer.vocabSize);
    runtime = new Runtime(graph, { seed: s.seed, backend });
  }
  const trainTokens = tokenizer.encode(corpus.train);
  const valTokens = tokenizer.encode(corpus.validation);
  const seqLen = s.seqLen ?? preset.seqLen;
  const batchSize = s.batch ?? preset.batchSize;
  // On 'onnx' each update is one compiled ONNX graph run in onnxruntime; the eager runtime on
  // tfjs-wasm does validation, checkpoints and generation, synced from it when needed.
  const compiled = s.backend === 'onnx' ? compileTrainStep(runtime, { optimizer: trainer.optimizer, clipping: trainer.clipping, schedule: trainer.schedule, lr: trainer.options.lr, step: trainer.step }) : undefined;
  const stepper = compiled && {
    step: (batch: Readonly<Record<string, Tensor>>) => compiled.step(batch),
    sync: () => compiled.syncTo(runtime.params, trainer),
    // Validation in onnxruntime too: the forward traced once with the current weights.
    evaluate: async (data: Dataset) => {
      const params = compiled.paramStore(backend);
      const runner = new OnnxRuntimeRunner(graph, params, { outputs: ['loss'] });
      let sum = 0;
      let n = 0;
      for await (const batch of data.batches(0)) {
        const { loss } = await runner.run(batch);
        sum += loss.data[0];
        n++;
        dispose(batch);
      }
      await runner.dispose();
      params.dispose();
      return sum / Math.max(n, 1);
    },
  };
  sink.note(`${preset.name}: ${graph.paramCount().toLocaleString('en-US')} parameters, vocabulary ${tokenizer.vocabSize}, ${compiled ? 'training step compiled to ONNX, run in onnxruntime' : `backend ${backend.name}`}`);
  sink.note(`corpus: ${corpus.name}: ${trainTokens.length.toLocaleString('en-US')} training and ${valTokens.length.toLocaleString('en-US')} validation characters`);

  const trainData = lmDataset(trainTokens, { seqLen, batchSize, shuffle: true, seed: s.seed });
  const valData = lmDataset(valTokens, { seqLen, batchSize: Math.max(1, Math.min(batchSize, Math.floor((valTokens.length - 1) / seqLen))) });
  const trainLoss: [number, number][] = [];
  const valLoss: [number, number][] = [];
  let done: Extract<TrainEvent, { type: 'done' }> | undefined;
  await mkdir(out, { recursive: true });
  const meta = () => ({ tokenizer: tokenizer.toJSON(), preset: preset.name, corpus: corpus.name, seed: s.seed, seqLen, batchSize });
  await lastValueFrom(
    trainer
      .fit(runtime, trainData, {
        steps: s.steps,
        timeBudgetSeconds: s.timeBudget,
        seed: s.seed,
        validation: valData,
        checkpoint: { dir: out, everySteps: s.checkpointEvery, meta },
        stepper,
      })
      .pipe(
        tap((e) => {
          if (e.type === 'batch') trainLoss.push([e.step, e.loss]);
          if (e.type === 'epoch' && e.valLoss !== undefined) valLoss.push([e.step, e.valLoss]);
          if (e.type === 'done') done = e;
          sink.event(e);
        }),
      ),
    { defaultValue: undefined },
  );
  sink.close();
  const series = [
    { name: 'train loss', color: '#1f77b4', points: smooth(trainLoss) },
    { name: 'validation loss', color: '#d62728', points: valLoss },
  ];
  const svg = join(out, 'loss.svg');
  const png = join(out, 'loss.png');
  await writeFile(svg, lossCurveSvg(series, `${preset.name} on ${corpus.name.split(' (')[0]}`));
  await writeFile(png, lossCurvePng(series));
  return { out, steps: done?.steps ?? trainer.step, valBitsPerChar: done?.valLoss === undefined ? undefined : done.valLoss / Math.LN2, images: [svg, png], tokenizer };
}

/** A moving average, so the noisy per-batch loss reads as a curve. */
function smooth(points: readonly [number, number][], window = 10): [number, number][] {
  return points.map(([x], i) => {
    const from = Math.max(0, i - window + 1);
    const slice = points.slice(from, i + 1);
    return [x, slice.reduce((a, [, y]) => a + y, 0) / slice.length];
  });
}

export async function trainCommand(argv: readonly string[], io: { stdout: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean } }): Promise<void> {
  const s = trainSettings(argv);
  if (s === 'help') {
    io.stdout.write(`${TRAIN_HELP}\n`);
    return;
  }
  const json = argv.includes('--json');
  const sink: ProgressSink = json ? new JsonProgress((line) => io.stdout.write(`${line}\n`)) : new TextProgress(io.stdout, { steps: s.steps, seconds: s.timeBudget });
  const r = await runTrain(s, sink);
  if (json) {
    sink.note(`loss curve: ${r.images.join(', ')}`);
  } else {
    io.stdout.write(`checkpoint: ${r.out}\nloss curve: ${r.images.join(', ')}\n`);
  }
}
