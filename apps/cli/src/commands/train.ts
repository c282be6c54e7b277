// ganglion train: train a character language model on a corpus, with live progress, checkpoints,
// validation in bits per character and a loss-curve image.
import { join, resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import {
  type CharTokenizer,
  type Graph,
  Runtime,
  TOKENS,
  type TrainEvent,
  type Trainer,
  lmDataset,
  writeFileAtomically,
} from '@ganglion/core';
import { compiledStepper } from '@ganglion/backend-onnx';
import { loadTokenizedCheckpoint } from '../checkpoint-io.js';
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { BACKENDS, type BackendName, buildContainer, createBackend } from '../container.js';
import { type Corpus, DEFAULT_MAX_VOCAB, mobyDick, textFile } from '../corpus.js';
import { lossCurvePng, lossCurveSvg } from '../plot.js';
import { PRESETS, PRESET_NAMES } from '../presets.js';
import { type PluginFlagValues, pluginChoice, pluginFlagSpec, pluginFlagValues, pluginHelp } from '../plugin-flags.js';
import { JsonProgress, type ProgressSink, TextProgress } from '../progress.js';
import { type RunFolder, openRunFolder, resumeSettings } from '../run-folder.js';

export const TRAIN_FLAGS: FlagSpec = {
  preset: { type: 'string' },
  corpus: { type: 'string' },
  backend: { type: 'string' },
  steps: { type: 'string' },
  'time-budget': { type: 'string' },
  batch: { type: 'string' },
  'seq-len': { type: 'string' },
  lr: { type: 'string' },
  // --optimizer, --clip, --schedule and every plugin option (--weight-decay, --max-norm, ...).
  ...pluginFlagSpec(),
  seed: { type: 'string' },
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'max-vocab': { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  json: { type: 'boolean' },
  'log-grad-norms': { type: 'string', optionalValue: '1' },
  'grad-accum': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const TRAIN_HELP = `usage: ganglion train [--preset ${PRESET_NAMES.join('|')}] [--corpus FILE] [--backend ${BACKENDS.join('|')}]
                      [--steps N] [--time-budget SECONDS] [--batch N] [--seq-len N] [--lr X]
                      [--optimizer NAME] [--clip NAME[:VALUE]] [--schedule NAME[:VALUE]] [plugin option flags]
                      [--seed N] [--out DIR] [--checkpoint-every N] [--resume | --overwrite] [--max-vocab N] [--json]
                      [--log-grad-norms [N]] [--grad-accum K]
Trains a character language model (default: char-lstm on Moby-Dick, the last chapters held out)
and saves a checkpoint, the validation loss in bits per character, and loss.svg / loss.png in --out.
--out must be new, empty, or hold a Ganglion checkpoint: --resume continues it (with its preset,
batch, seq-len, seed and corpus unless given), --overwrite replaces it. Other files there are kept.
--grad-accum K runs each batch as K micro-batches through the compiled gradients graph, summing
their gradients before one update (same result as the whole batch, less memory; --backend onnx).
--log-grad-norms [N] prints each parameter's gradient norm every N steps (default 1), from the
ParamGrad messages (runtime.watch), on every backend; with --json as {"event":"grad-norms",...} lines.
--max-vocab N (default ${DEFAULT_MAX_VOCAB}) keeps the N-1 most frequent characters; the rarer ones share one unknown token.
The preset sets the optimizer and clipping unless given; the schedule defaults to constant.
${pluginHelp()}`;

export interface TrainResult {
  readonly out: string;
  readonly steps: number;
  readonly valBitsPerChar?: number;
  readonly images: readonly string[];
  /** Set when the checkpoint is already at --steps: nothing was trained or written. */
  readonly nothingToDo?: string;
}

export interface TrainSettings {
  /** Undefined: the checkpoint's when resuming, else char-lstm. */
  readonly preset?: string;
  readonly corpus?: string;
  readonly backend: BackendName;
  readonly steps?: number;
  readonly timeBudget?: number;
  readonly batch?: number;
  readonly seqLen?: number;
  readonly lr?: number;
  /** --optimizer, --clip, --schedule and plugin option flags as given; the preset fills in the rest. */
  readonly plugins: PluginFlagValues;
  /** Undefined: the checkpoint's when resuming, else 0. */
  readonly seed?: number;
  readonly out: string;
  readonly checkpointEvery?: number;
  /** Vocabulary cap: the most frequent characters, the rest mapped to one unknown token. */
  readonly maxVocab: number;
  readonly resume: boolean;
  readonly overwrite: boolean;
  /** Print every parameter's gradient norm every N steps. */
  readonly logGradNorms?: number;
  /** Micro-batches per batch, their gradients summed before one update (compiled step only). */
  readonly gradAccum?: number;
}

export function trainSettings(argv: readonly string[], defaults: Partial<TrainSettings> = {}): TrainSettings | 'help' {
  const { values, positionals } = parse(argv, TRAIN_FLAGS, 'train');
  if (values.help) return 'help';
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const preset =
    values.preset === undefined ? defaults.preset : oneOf('preset', values.preset, PRESET_NAMES, 'char-lstm');
  return {
    preset,
    corpus: values.corpus as string | undefined,
    backend: oneOf('backend', values.backend, BACKENDS, defaults.backend ?? 'onnx'),
    steps: values.steps === undefined ? defaults.steps : num('steps', values.steps, 0, { min: 1, integer: true }),
    timeBudget:
      values['time-budget'] === undefined
        ? defaults.timeBudget
        : num('time-budget', values['time-budget'], 0, { min: 0, exclusiveMin: true }),
    batch: values.batch === undefined ? undefined : num('batch', values.batch, 0, { min: 1, integer: true }),
    seqLen:
      values['seq-len'] === undefined ? undefined : num('seq-len', values['seq-len'], 0, { min: 1, integer: true }),
    lr: values.lr === undefined ? undefined : num('lr', values.lr, 0, { min: 0, exclusiveMin: true }),
    plugins: checkedPluginFlags(values, preset ?? (values.resume ? undefined : 'char-lstm')),
    seed: values.seed === undefined ? defaults.seed : num('seed', values.seed, 0, { integer: true }),
    out: (values.out as string | undefined) ?? defaults.out ?? join('runs', preset ?? 'char-lstm'),
    checkpointEvery:
      values['checkpoint-every'] === undefined
        ? undefined
        : num('checkpoint-every', values['checkpoint-every'], 0, { min: 1, integer: true }),
    maxVocab: num('max-vocab', values['max-vocab'], defaults.maxVocab ?? DEFAULT_MAX_VOCAB, { min: 2, integer: true }),
    resume: Boolean(values.resume),
    overwrite: Boolean(values.overwrite ?? defaults.overwrite),
    logGradNorms:
      values['log-grad-norms'] === undefined
        ? undefined
        : num('log-grad-norms', values['log-grad-norms'], 1, { min: 1, integer: true }),
    gradAccum: gradAccum(
      values['grad-accum'],
      values.backend,
      values.batch === undefined ? (preset ? PRESETS[preset]?.batchSize : undefined) : Number(values.batch),
    ),
  };
}

/** --grad-accum K, checked against the backend and (when known before a resume) the batch size. */
function gradAccum(
  raw: string | boolean | undefined,
  backend: string | boolean | undefined,
  batch: number | undefined,
): number | undefined {
  if (raw === undefined) return undefined;
  const k = num('grad-accum', raw, 1, { min: 1, integer: true });
  if (k > 1 && backend !== undefined && backend !== 'onnx')
    throw new UsageError(
      `--grad-accum: micro-batches run through the compiled gradients graph; use --backend onnx (got --backend ${String(backend)})`,
    );
  if (batch !== undefined) checkMicroBatches(batch, k);
  return k;
}

function checkMicroBatches(batch: number, k: number): void {
  if (batch % k !== 0)
    throw new UsageError(`--grad-accum: the batch of ${batch} does not split into ${k} equal micro-batches`);
}

/** The plugin flags, checked now (against the preset's choices when it is known) so a bad one stops before any work. */
function checkedPluginFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  presetName: string | undefined,
): PluginFlagValues {
  const plugins = pluginFlagValues(values);
  // Resuming without --preset: the checkpoint names the preset, so the check waits for it.
  const preset = presetName === undefined ? undefined : PRESETS[presetName];
  if (preset) pluginChoice(plugins, { optimizer: preset.optimizer, clipping: preset.clip });
  return plugins;
}

export async function runTrain(s: TrainSettings, sink: ProgressSink): Promise<TrainResult> {
  const folder = await openRunFolder(s.out, { resume: s.resume, overwrite: s.overwrite });
  try {
    return await trainInto(folder, s, sink);
  } finally {
    await folder.lock.release();
  }
}

async function trainInto(folder: RunFolder, s: TrainSettings, sink: ProgressSink): Promise<TrainResult> {
  const out = folder.path;
  const backend = await createBackend(s.backend);
  // The checkpoint to continue, and the settings it was trained with, before any corpus is read.
  const resumed = folder.resume ? await loadTokenizedCheckpoint(out, backend) : undefined;
  const loaded = resumed?.checkpoint;
  const saved = loaded
    ? resumeSettings(
        loaded.meta,
        { preset: s.preset, batchSize: s.batch, seqLen: s.seqLen, seed: s.seed },
        loaded.loadedFrom,
      )
    : {};
  const presetName = s.preset ?? saved.preset ?? 'char-lstm';
  const preset = PRESETS[presetName];
  if (!preset)
    throw new UsageError(
      `--resume: ${loaded?.loadedFrom}/meta.json names preset ${JSON.stringify(presetName)}, which this version does not have; pass --preset`,
    );
  if (loaded && s.steps !== undefined && s.steps <= loaded.meta.step) {
    return {
      out,
      steps: loaded.meta.step,
      images: [],
      nothingToDo: `nothing to do: ${out} is at step ${loaded.meta.step} and --steps is ${s.steps}`,
    };
  }
  const seed = saved.seed ?? s.seed ?? 0;
  // Resuming without --corpus reads the checkpoint's own corpus; either way it must be the same text.
  const savedPath = typeof loaded?.meta.corpusPath === 'string' ? loaded.meta.corpusPath : undefined;
  const corpusPath = s.corpus === undefined ? savedPath : resolve(s.corpus);
  const corpus: Corpus = corpusPath ? await textFile(s.corpus ?? corpusPath) : mobyDick();
  if (loaded) resumeSettings(loaded.meta, { corpusFingerprint: corpus.fingerprint }, loaded.loadedFrom);
  const container = buildContainer({
    backend,
    lr: s.lr ?? preset.lr,
    ...pluginChoice(s.plugins, { optimizer: preset.optimizer, clipping: preset.clip }),
  });
  const trainer: Trainer = container.get(TOKENS.Trainer);

  let graph: Graph;
  let runtime: Runtime;
  let tokenizer: CharTokenizer;
  if (loaded && resumed) {
    tokenizer = resumed.tokenizer;
    graph = loaded.graph;
    runtime = new Runtime(graph, { params: loaded.params, backend });
    if (loaded.optimizerState) trainer.optimizer.setState(loaded.optimizerState, backend);
    trainer.resumeFrom(loaded.meta);
    sink.note(`resuming ${out} at step ${trainer.step}`);
  } else {
    tokenizer = corpus.vocabulary(s.maxVocab);
    graph = preset.build(tokenizer.vocabSize);
    runtime = new Runtime(graph, { seed, backend });
  }
  const tokens = await corpus.encode(tokenizer, { dataDir: join(out, '.ganglion', 'data') });
  const { train: trainTokens, validation: valTokens } = tokens;
  const seqLen = saved.seqLen ?? s.seqLen ?? preset.seqLen;
  const batchSize = saved.batchSize ?? s.batch ?? preset.batchSize;
  // On 'onnx' each update is one compiled ONNX graph run in onnxruntime; the eager runtime on
  // tfjs-wasm does validation, checkpoints and generation, synced from it when needed.
  if (s.gradAccum) checkMicroBatches(batchSize, s.gradAccum);
  const stepper = s.backend === 'onnx' ? compiledStepper(runtime, trainer, { gradAccum: s.gradAccum }) : undefined;
  sink.note(
    `${preset.name}: ${graph.paramCount().toLocaleString('en-US')} parameters, vocabulary ${tokenizer.vocabSize}, ${stepper ? 'training step compiled to ONNX, run in onnxruntime' : `backend ${backend.name}`}`,
  );
  sink.note(
    `corpus: ${corpus.name}: ${trainTokens.length.toLocaleString('en-US')} training and ${valTokens.length.toLocaleString('en-US')} validation characters`,
  );
  if (tokens.note) sink.note(tokens.note);

  const trainData = lmDataset(trainTokens, { seqLen, batchSize, shuffle: true, seed });
  const valData = lmDataset(valTokens, {
    seqLen,
    batchSize: Math.max(1, Math.min(batchSize, Math.floor((valTokens.length - 1) / seqLen))),
  });
  const trainLoss: [number, number][] = [];
  const valLoss: [number, number][] = [];
  let done: Extract<TrainEvent, { type: 'done' }> | undefined;
  // Gradient norms from the ParamGrad messages of the logged steps, printed after each step's batch event.
  const norms = new Map<number, Record<string, number>>();
  const watching = s.logGradNorms
    ? runtime.watch({ kind: 'param-grad', every: s.logGradNorms }).subscribe((m) => {
        const g = m.grad.dataSync();
        let sq = 0;
        for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
        norms.set(m.step, { ...norms.get(m.step), [`${m.node}.${m.param}`]: Math.sqrt(sq) });
      })
    : undefined;
  const meta = () => ({
    tokenizer: tokenizer.toJSON(),
    preset: preset.name,
    corpus: corpus.name,
    corpusPath,
    corpusFingerprint: corpus.fingerprint,
    seed,
    seqLen,
    batchSize,
  });
  try {
    await lastValueFrom(
      trainer
        .fit(runtime, trainData, {
          steps: s.steps,
          timeBudgetSeconds: s.timeBudget,
          seed,
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
            const logged = e.type === 'batch' ? norms.get(e.step) : undefined;
            if (logged && e.type === 'batch') {
              norms.delete(e.step);
              sink.gradNorms(e.step, logged);
            }
          }),
        ),
      { defaultValue: undefined },
    );
  } finally {
    watching?.unsubscribe();
    await tokens.close();
  }
  sink.close();
  const series = [
    { name: 'train loss', color: '#1f77b4', points: smooth(trainLoss) },
    { name: 'validation loss', color: '#d62728', points: valLoss },
  ];
  const svg = join(out, 'loss.svg');
  const png = join(out, 'loss.png');
  await writeFileAtomically(svg, lossCurveSvg(series, `${preset.name} on ${corpus.name.split(' (')[0]}`));
  await writeFileAtomically(png, lossCurvePng(series, `${preset.name} on ${corpus.name.split(' (')[0]}`));
  return {
    out,
    steps: done?.steps ?? trainer.step,
    valBitsPerChar: done?.valLoss === undefined ? undefined : done.valLoss / Math.LN2,
    images: [svg, png],
  };
}

/** A moving average, so the noisy per-batch loss reads as a curve. */
function smooth(points: readonly [number, number][], window = 10): [number, number][] {
  return points.map(([x], i) => {
    const from = Math.max(0, i - window + 1);
    const slice = points.slice(from, i + 1);
    return [x, slice.reduce((a, [, y]) => a + y, 0) / slice.length];
  });
}

export async function trainCommand(
  argv: readonly string[],
  io: { stdout: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean } },
): Promise<void> {
  const s = trainSettings(argv);
  if (s === 'help') {
    io.stdout.write(`${TRAIN_HELP}\n`);
    return;
  }
  const json = argv.includes('--json');
  const sink: ProgressSink = json
    ? new JsonProgress((line) => io.stdout.write(`${line}\n`))
    : new TextProgress(io.stdout, { steps: s.steps, seconds: s.timeBudget });
  const r = await runTrain(s, sink);
  if (r.nothingToDo) {
    if (json) sink.note(r.nothingToDo);
    else io.stdout.write(`${r.nothingToDo}\n`);
    return;
  }
  if (json) {
    sink.note(`loss curve: ${r.images.join(', ')}`);
  } else {
    io.stdout.write(`checkpoint: ${r.out}\nloss curve: ${r.images.join(', ')}\n`);
  }
}
