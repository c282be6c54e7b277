// ganglion train: train a language model on a corpus or a prepared data folder, with live
// progress, checkpoints, validation in nats per token and bits per character, and a loss curve.
// A masked LM (preset bert-mini) trains on masked windows instead of next-token ones (mlm.ts).
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import {
  type Graph,
  ParamStore,
  Runtime,
  TOKENS,
  type Tokenizer,
  TokenizerError,
  type TrainEvent,
  type Trainer,
  lmDataset,
} from '@ganglion/core';
import { checkpointDirStatus, checkpointFolder, writeFileAtomically } from '@ganglion/core/node';
import { compiledStepper } from '@ganglion/backend-onnx/node';
import { type OpenedData, corpusFromPaths, mobyDick, openData, prepareData } from '@ganglion/text/node';
import { loadTokenizedCheckpoint } from '../checkpoint-io.js';
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { BACKENDS, type BackendName, buildContainer, createBackend, tokenizerRegistry } from '../container.js';
import { lossCurvePng, lossCurveSvg } from '../plot.js';
import {
  FINETUNE,
  PRESETS,
  PRESET_NAMES,
  type Preset,
  type SizeFlags,
  buildModel,
  describeModel,
  sizedModel,
  trainingDefaults,
} from '../presets.js';
import { checkTokenizerSpec, describeTokenizer, tokenizerSpecsHelp } from '../tokenizers.js';
import { type PluginFlagValues, pluginChoice, pluginFlagSpec, pluginFlagValues, pluginHelp } from '../plugin-flags.js';
import { JsonProgress, type ProgressSink, TextProgress } from '../progress.js';
import { type RunFolder, openRunFolder, resumeSettings } from '../run-folder.js';
import {
  FINETUNE_HELP,
  type LoraSettings,
  adaptForFinetuning,
  carriedMeta,
  describeParams,
  finetuneSeqLen,
  finetuneSettings,
} from '../finetune.js';
import { MASKED_LM, MLM_NOTE, checkMlmTokenizerSpec, isMaskedLm, mlmDatasets, mlmTokenizer } from '../mlm.js';
import { isG2pRunFolder, isSeq2SeqPreset, trainSeq2Seq } from '../g2p-train.js';
import {
  DISTRIBUTED_FLAGS,
  DISTRIBUTED_HELP,
  DISTRIBUTED_USAGE,
  type DistributedFlags,
  QUIET_SINK,
  type RankContext,
  distributedFlags,
  runAsRank,
} from '../distributed/data-parallel.js';
import { launchWorkers } from '../distributed/launcher.js';
import {
  PIPELINE_FLAGS,
  PIPELINE_HELP,
  PIPELINE_USAGE,
  type PipelineFlags,
  describePipeline,
  pipelineFlags,
  startPipeline,
} from '../distributed/pipeline-flags.js';

export const TRAIN_FLAGS: FlagSpec = {
  preset: { type: 'string' },
  corpus: { type: 'string' },
  data: { type: 'string' },
  tokenizer: { type: 'string' },
  dim: { type: 'string' },
  blocks: { type: 'string' },
  heads: { type: 'string' },
  context: { type: 'string' },
  embed: { type: 'string' },
  units: { type: 'string' },
  layers: { type: 'string' },
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
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  json: { type: 'boolean' },
  'log-grad-norms': { type: 'string', optionalValue: '1' },
  'grad-accum': { type: 'string' },
  'val-words': { type: 'string' },
  ...DISTRIBUTED_FLAGS,
  ...PIPELINE_FLAGS,
  help: { type: 'boolean', short: 'h' },
};

/** finetune's flags: train's, less those that choose a model or a tokenizer (the checkpoint has both), plus LoRA and freezing. */
const FINETUNE_FLAGS: FlagSpec = {
  ...Object.fromEntries(
    Object.entries(TRAIN_FLAGS).filter(
      ([k]) => !['preset', 'tokenizer', 'dim', 'blocks', 'heads', 'context', 'embed', 'units', 'layers'].includes(k),
    ),
  ),
  lora: { type: 'string', optionalValue: '' },
  'lora-targets': { type: 'string' },
  freeze: { type: 'string' },
};

const TRAIN_HELP = `usage: ganglion train [--preset ${PRESET_NAMES.join('|')}] [--corpus PATH | --data DIR] [--tokenizer SPEC]
                      [--backend ${BACKENDS.join('|')}] [--steps N] [--time-budget SECONDS] [--batch N] [--seq-len N] [--lr X]
                      [--dim N] [--blocks N] [--heads N] [--context N] [--embed N] [--units N] [--layers N]
                      [--optimizer NAME] [--clip NAME[:VALUE]] [--schedule NAME[:VALUE]] [plugin option flags]
                      [--seed N] [--out DIR] [--checkpoint-every N] [--resume | --overwrite] [--json]
                      [--log-grad-norms [N]] [--grad-accum K] [--val-words N]
                      ${DISTRIBUTED_USAGE}
                      ${PIPELINE_USAGE}
Trains a language model (default: char-lstm on Moby-Dick, the last chapters held out) and saves a
checkpoint (with its tokenizer.json), the validation loss in nats per token and bits per character,
and loss.svg / loss.png in --out.
--data DIR reads a folder \`ganglion prepare\` wrote (train.bin, val.bin, tokenizer.json, meta.json),
a window at a time; --corpus PATH (a text file, a folder of *.txt, a .jsonl) is prepared on the fly
into the run folder with --tokenizer SPEC (default: the preset's), one of:
${tokenizerSpecsHelp(tokenizerRegistry())}
Presets: ${PRESET_NAMES.map((n) => `${n} (${PRESETS[n].tokenizer}; ${describeModel(PRESETS[n].model)})`).join('; ')}.
Size flags override the preset's model: --dim --blocks --heads --context for a GPT or BERT, --embed
--units --layers for an LSTM (--units N --layers L: L LSTMs of N).
bert-mini is a masked LM: 15% of each window's tokens are predicted (80% shown as [MASK], 10% as a
random token, 10% unchanged), the validation loss is nats per masked token (no bits per character),
and \`ganglion fill-mask\` uses the checkpoint; its tokenizer gets [PAD] [CLS] [SEP] [MASK] (not char).
g2p (LSTMs with attention) and g2p-transformer (a Transformer encoder–decoder) learn to pronounce
words from CMUdict (no --corpus: stress digits stripped, 5% of the words held out). Each validation also
decodes the held-out words greedily (--val-words N: N of them, evenly spaced; default all) and
reports the word and phoneme error rates (valWordErrorRate, valPhonemeErrorRate with --json);
\`ganglion translate\` pronounces words with the checkpoint.
--out must be new, empty, or hold a Ganglion checkpoint: --resume continues it (with its preset,
batch, seq-len, seed and corpus unless given), --overwrite replaces it. Other files there are kept.
--grad-accum K runs each batch as K micro-batches through the compiled gradients graph, summing
their gradients before one update (same result as the whole batch, less memory; --backend onnx).
--log-grad-norms [N] prints each parameter's gradient norm every N steps (default 1), from the
ParamGrad messages (runtime.watch), on every backend; with --json as {"event":"grad-norms",...} lines.
${DISTRIBUTED_HELP}
${PIPELINE_HELP}
The preset sets the optimizer and clipping unless given; the schedule defaults to constant.
${pluginHelp()}`;

export interface TrainResult {
  readonly out: string;
  readonly steps: number;
  readonly valBitsPerChar?: number;
  readonly images: readonly string[];
  /** Set when the checkpoint is already at --steps: nothing was trained or written. */
  readonly nothingToDo?: string;
  /** Data parallel, ranks > 0: the line to print instead of the checkpoint's. */
  readonly note?: string;
}

/** The result of a resumed run already at --steps (`steps` undefined: train on), else undefined. */
export function alreadyAtSteps(out: string, at: number, steps: number | undefined): TrainResult | undefined {
  if (steps === undefined || steps > at) return undefined;
  return { out, steps: at, images: [], nothingToDo: `nothing to do: ${out} is at step ${at} and --steps is ${steps}` };
}

export interface TrainSettings {
  /** Undefined: the checkpoint's when resuming, else char-lstm. */
  readonly preset?: string;
  readonly corpus?: string;
  /** A folder `ganglion prepare` wrote. */
  readonly data?: string;
  /** Undefined: the preset's (or, resuming, the checkpoint's). */
  readonly tokenizer?: string;
  /** Size flags given, overriding the preset's model. */
  readonly size: SizeFlags;
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
  readonly resume: boolean;
  readonly overwrite: boolean;
  /** Print every parameter's gradient norm every N steps. */
  readonly logGradNorms?: number;
  /** Micro-batches per batch, their gradients summed before one update (compiled step only). */
  readonly gradAccum?: number;
  /** g2p: the held-out words each validation decodes (evenly spaced; undefined: all). */
  readonly valWords?: number;
  /** `ganglion finetune`: the checkpoint whose graph, weights and tokenizer training starts from. */
  readonly base?: string;
  /** finetune --lora: adapters on the attention projections; every base weight frozen. */
  readonly lora?: LoraSettings;
  /** finetune --freeze: parameter-key patterns (`*` wildcards) to keep fixed. */
  readonly freeze?: readonly string[];
  /** Data parallel: --workers N, or this process as --rank R of --world W on --nats URL. */
  readonly distributed?: DistributedFlags;
  /** Pipeline stages: --stages, --micro-batches (pipeline-flags.ts). */
  readonly pipeline?: PipelineFlags;
}

export function trainSettings(
  argv: readonly string[],
  defaults: Partial<TrainSettings> = {},
  command: 'train' | 'finetune' = 'train',
): TrainSettings | 'help' {
  const finetune = command === 'finetune';
  const { values, positionals } = parse(argv, finetune ? FINETUNE_FLAGS : TRAIN_FLAGS, command);
  if (values.help) return 'help';
  const [base, ...extra] = finetune ? positionals : [undefined, ...positionals];
  if (finetune && base === undefined)
    throw new UsageError('name the checkpoint to start from: ganglion finetune CKPT --corpus FILE ...');
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const tuning = finetune ? finetuneSettings(values) : {};
  const preset =
    values.preset === undefined ? defaults.preset : oneOf('preset', values.preset, PRESET_NAMES, 'char-lstm');
  if (values.data !== undefined && values.corpus !== undefined)
    throw new UsageError('--data and --corpus: choose one (a prepared folder, or a corpus to prepare)');
  if (values.data !== undefined && values.tokenizer !== undefined)
    throw new UsageError(
      '--tokenizer: a --data folder has its own tokenizer (the one ganglion prepare trained); prepare again to change it',
    );
  const size: SizeFlags = Object.fromEntries(
    (['dim', 'blocks', 'heads', 'context', 'embed', 'units', 'layers'] as const)
      .filter((k) => values[k] !== undefined)
      .map((k) => [k, num(k, values[k], 0, { min: 1, integer: true })]),
  );
  if (values.resume && (Object.keys(size).length > 0 || values.tokenizer !== undefined))
    throw new UsageError(
      `--resume: the checkpoint fixes the model and its tokenizer; drop --${Object.keys(size)[0] ?? 'tokenizer'}, or train a new run in another --out`,
    );
  if (preset !== undefined) sizedModel(PRESETS[preset], size);
  if (values['val-words'] !== undefined && (preset === undefined ? !values.resume : !isSeq2SeqPreset(preset)))
    throw new UsageError('--val-words: only an encoder–decoder (preset g2p, g2p-transformer) decodes held-out words');
  if (typeof values.tokenizer === 'string') checkTokenizerSpec(values.tokenizer, tokenizerRegistry());
  if (typeof values.tokenizer === 'string' && preset !== undefined && PRESETS[preset].model.kind === 'bert')
    checkMlmTokenizerSpec(values.tokenizer, preset);
  return {
    preset,
    corpus: values.corpus as string | undefined,
    data: values.data as string | undefined,
    tokenizer: values.tokenizer as string | undefined,
    size,
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
    plugins: checkedPluginFlags(values, finetune ? FINETUNE : (preset ?? (values.resume ? undefined : 'char-lstm'))),
    seed: values.seed === undefined ? defaults.seed : num('seed', values.seed, 0, { integer: true }),
    out:
      (values.out as string | undefined) ??
      defaults.out ??
      join('runs', finetune ? 'finetune' : (preset ?? 'char-lstm')),
    checkpointEvery:
      values['checkpoint-every'] === undefined
        ? undefined
        : num('checkpoint-every', values['checkpoint-every'], 0, { min: 1, integer: true }),
    resume: Boolean(values.resume),
    overwrite: Boolean(values.overwrite ?? defaults.overwrite),
    logGradNorms:
      values['log-grad-norms'] === undefined
        ? undefined
        : num('log-grad-norms', values['log-grad-norms'], 1, { min: 1, integer: true }),
    valWords:
      values['val-words'] === undefined
        ? undefined
        : num('val-words', values['val-words'], 0, { min: 1, integer: true }),
    gradAccum: gradAccum(
      values['grad-accum'],
      values.backend,
      values.batch === undefined ? (preset ? PRESETS[preset]?.batchSize : undefined) : Number(values.batch),
    ),
    pipeline: pipelineFlags(values, {
      backend: values.backend,
      batch: values.batch === undefined ? (preset ? PRESETS[preset]?.batchSize : undefined) : Number(values.batch),
    }),
    // --nats and --timeout serve the pipeline when --stages is given.
    distributed:
      values.stages !== undefined
        ? undefined
        : distributedFlags(values, {
            backend: values.backend,
            batch:
              values.batch === undefined ? (preset ? PRESETS[preset]?.batchSize : undefined) : Number(values.batch),
            gradAccum: values['grad-accum'] === undefined ? undefined : Number(values['grad-accum']),
            timeBudget: values['time-budget'] !== undefined,
            logGradNorms: values['log-grad-norms'] !== undefined,
          }),
    ...(finetune ? { base, ...tuning } : {}),
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
  const preset = presetName === undefined ? undefined : trainingDefaults(presetName);
  if (preset) pluginChoice(plugins, { optimizer: preset.optimizer, clipping: preset.clip });
  return plugins;
}

export async function runTrain(s: TrainSettings, sink: ProgressSink, rank?: RankContext): Promise<TrainResult> {
  // Data parallel: this process is one rank; ranks > 0 leave --out and the terminal to rank 0.
  if (s.distributed && !rank)
    return runAsRank(s.distributed, s.base === undefined ? 'train' : 'finetune', (ctx) =>
      runTrain(s, ctx.rank > 0 ? QUIET_SINK : sink, ctx),
    );
  const folder =
    rank?.follower(s.out, s.resume) ?? (await openRunFolder(s.out, { resume: s.resume, overwrite: s.overwrite }));
  try {
    return await trainInto(folder, s, sink, rank);
  } catch (e) {
    // Bad data found while preparing it, say: a folder this run made holds nothing of the user's yet.
    await folder.lock.release();
    if (folder.created && (await checkpointDirStatus(folder.path)).kind !== 'checkpoint')
      await rm(folder.path, { recursive: true, force: true });
    throw e;
  } finally {
    await folder.lock.release();
  }
}

async function trainInto(
  folder: RunFolder,
  s: TrainSettings,
  sink: ProgressSink,
  rank?: RankContext,
): Promise<TrainResult> {
  const out = folder.path;
  // An encoder–decoder (preset g2p) has its own data, model and validation: g2p-train.ts.
  if (isSeq2SeqPreset(s.preset) || (s.preset === undefined && folder.resume && (await isG2pRunFolder(out)))) {
    if (rank) throw new UsageError('--workers, --nats: preset g2p trains in one process');
    return trainSeq2Seq(folder, s, sink);
  }
  const backend = await createBackend(s.backend);
  // The checkpoint to continue, and the settings it was trained with, before any corpus is read.
  const resumed = folder.resume ? await loadTokenizedCheckpoint(out, backend) : undefined;
  // finetune: the checkpoint to start from (resuming a finetune run reads its own checkpoint instead).
  const base = s.base !== undefined && !folder.resume ? await loadTokenizedCheckpoint(s.base, backend) : undefined;
  const loaded = resumed?.checkpoint;
  const saved = loaded
    ? resumeSettings(
        loaded.meta,
        { preset: s.preset, batchSize: s.batch, seqLen: s.seqLen, seed: s.seed },
        loaded.loadedFrom,
      )
    : {};
  const presetName = s.base !== undefined ? FINETUNE : (s.preset ?? saved.preset ?? 'char-lstm');
  const preset = trainingDefaults(presetName);
  if (!preset)
    throw new UsageError(
      `--resume: ${loaded?.loadedFrom}/meta.json names preset ${JSON.stringify(presetName)}, which this version does not have; pass --preset`,
    );
  const done = loaded && alreadyAtSteps(out, loaded.meta.step, s.steps);
  if (done) return done;
  const seed = saved.seed ?? s.seed ?? 0;
  const container = buildContainer({
    backend,
    lr: s.lr ?? (s.lora || loaded?.meta.lora ? 1e-3 : preset.lr),
    ...pluginChoice(s.plugins, { optimizer: preset.optimizer, clipping: preset.clip }),
  });
  const trainer: Trainer = container.get(TOKENS.Trainer);
  const registry = tokenizerRegistry(container);
  // finetune: the checkpoint's graph with the adapters and freezes, checked before any data is read.
  const tuned = base && adaptForFinetuning(base.checkpoint.graph, s, container.get(TOKENS.LayerResolver));
  // A masked LM: preset bert-mini, or a checkpoint trained as one (resumed or fine-tuned).
  const mlm = preset.model?.kind === 'bert' || isMaskedLm((base ?? resumed)?.checkpoint.meta);

  // The data: a folder `ganglion prepare` wrote, or a corpus prepared into the run folder (Moby-Dick
  // when none is named). Resuming reads the checkpoint's own data or corpus; either way the text
  // and the tokenizer must be the ones it was trained on.
  const savedData = typeof loaded?.meta.dataPath === 'string' ? loaded.meta.dataPath : undefined;
  const savedCorpus = typeof loaded?.meta.corpusPath === 'string' ? loaded.meta.corpusPath : undefined;
  const dataPath = s.data !== undefined ? resolve(s.data) : s.corpus === undefined ? savedData : undefined;
  const corpusPath = s.corpus !== undefined ? resolve(s.corpus) : dataPath === undefined ? savedCorpus : undefined;
  let data: OpenedData;
  if (dataPath !== undefined) {
    data = await openData(dataPath, registry);
  } else {
    const corpus = corpusPath !== undefined ? await corpusFromPaths([s.corpus ?? corpusPath]) : mobyDick();
    const spec = resumed?.tokenizer ?? base?.tokenizer ?? s.tokenizer ?? preset.tokenizer;
    sink.note(`preparing ${corpus.name} with tokenizer ${typeof spec === 'string' ? spec : describeTokenizer(spec)}`);
    const dir = rank?.dataDir ?? join(out, '.ganglion', 'data');
    let prepared;
    try {
      prepared = await prepareData({ corpus, tokenizer: spec, out: dir, registry });
    } catch (e) {
      // The checkpoint's own tokenizer encodes the text it was trained on: this text is another.
      if (loaded && e instanceof TokenizerError)
        throw new UsageError(
          `--resume: the corpus text differs from the one the checkpoint was trained on (${loaded.loadedFrom}/meta.json): ${e.message}`,
        );
      throw e;
    }
    for (const n of prepared.notes) sink.note(n);
    data = await openData(dir, registry);
  }
  try {
    if (loaded) resumeSettings(loaded.meta, { corpusFingerprint: data.meta.fingerprint }, loaded.loadedFrom);
    // A masked LM's tokenizer is the data's with BERT's special tokens after its ids.
    const dataTokenizer = mlm ? mlmTokenizer(data.tokenizer, registry) : data.tokenizer;
    let graph: Graph;
    let runtime: Runtime;
    let tokenizer: Tokenizer;
    if (loaded && resumed) {
      tokenizer = resumed.tokenizer;
      if (JSON.stringify(dataTokenizer.toJSON()) !== JSON.stringify(tokenizer.toJSON()))
        throw new UsageError(
          `--resume: the tokenizer of ${data.dir} (${describeTokenizer(dataTokenizer)}) is not the checkpoint's (${describeTokenizer(tokenizer)}); resume on the data it was trained on`,
        );
      graph = loaded.graph;
      runtime = new Runtime(graph, { params: loaded.params, backend });
      if (loaded.optimizerState) trainer.optimizer.setState(loaded.optimizerState, backend);
      trainer.resumeFrom(loaded.meta);
      sink.note(`resuming ${out} at step ${trainer.step}`);
    } else if (base && tuned) {
      tokenizer = base.tokenizer;
      if (JSON.stringify(dataTokenizer.toJSON()) !== JSON.stringify(tokenizer.toJSON()))
        throw new UsageError(
          `--data ${data.dir}: its tokenizer (${describeTokenizer(dataTokenizer)}) is not the checkpoint's (${describeTokenizer(tokenizer)}); prepare the text with the checkpoint's tokenizer.json, or pass --corpus`,
        );
      graph = tuned;
      runtime = new Runtime(graph, {
        params: ParamStore.initialize(graph, seed, backend, base.checkpoint.params),
        backend,
      });
    } else {
      tokenizer = dataTokenizer;
      graph = buildModel(sizedModel(preset as Preset, s.size), tokenizer.vocabSize);
      runtime = new Runtime(graph, { seed, backend });
    }
    const { train: trainTokens, validation: valTokens } = data;
    const seqLen =
      saved.seqLen ??
      s.seqLen ??
      (base
        ? finetuneSeqLen(graph, preset.seqLen)
        : preset.model?.kind === 'gpt' || preset.model?.kind === 'bert'
          ? (s.size.context ?? preset.seqLen)
          : preset.seqLen);
    const batchSize = saved.batchSize ?? s.batch ?? preset.batchSize;
    // On 'onnx' each update is one compiled ONNX graph run in onnxruntime; the eager runtime on
    // tfjs-wasm does validation, checkpoints and generation, synced from it when needed.
    if (s.gradAccum) checkMicroBatches(batchSize, s.gradAccum);
    const pipeline =
      s.pipeline &&
      (await startPipeline(runtime, trainer, s.pipeline, {
        plugins: pluginChoice(s.plugins, { optimizer: preset.optimizer, clipping: preset.clip }),
        seed,
        batch: batchSize,
      }));
    const stepper = rank
      ? await rank.stepper(
          runtime,
          trainer,
          {
            preset: preset.name,
            batch: batchSize,
            'seq-len': seqLen,
            seed,
            steps: s.steps,
            data: data.meta.fingerprint,
            mlm,
          },
          s.gradAccum,
        )
      : (pipeline ??
        (s.backend === 'onnx' ? compiledStepper(runtime, trainer, { gradAccum: s.gradAccum }) : undefined));
    // Data parallel: rank 0 alone validates and writes.
    const writes = !rank || rank.rank === 0;
    const model =
      loaded || base
        ? describeParams(graph, s)
        : `${describeModel(sizedModel(preset as Preset, s.size))}, ${graph.paramCount().toLocaleString('en-US')} parameters`;
    sink.note(
      `${preset.name}: ${model}, tokenizer ${describeTokenizer(tokenizer)}, ${pipeline ? describePipeline(pipeline, s.pipeline!) : stepper ? 'training step compiled to ONNX, run in onnxruntime' : `backend ${backend.name}`}`,
    );
    const perToken = data.validationCharactersPerToken;
    // NaN: no bits per character for a masked LM's loss.
    sink.charactersPerToken(mlm ? Number.NaN : perToken);
    if (mlm) sink.note(MLM_NOTE);
    sink.note(
      `data: ${data.meta.corpus}: ${trainTokens.length.toLocaleString('en-US')} training and ${valTokens.length.toLocaleString('en-US')} validation tokens (${perToken.toFixed(2)} characters per token)`,
    );
    const masked = mlm
      ? mlmDatasets(tokenizer, graph, { train: trainTokens, validation: valTokens }, { seqLen, batchSize, seed })
      : undefined;
    const trainData = masked?.train ?? lmDataset(trainTokens, { seqLen, batchSize, shuffle: true, seed });
    const valData =
      masked?.validation ??
      lmDataset(valTokens, {
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
      ...(mlm ? { objective: MASKED_LM } : {}),
      ...carriedMeta(base?.checkpoint.meta ?? loaded?.meta),
      ...(base ? { finetunedFrom: base.checkpoint.loadedFrom, ...(s.lora ? { lora: { ...s.lora } } : {}) } : {}),
      corpus: data.meta.corpus,
      corpusPath,
      dataPath,
      corpusFingerprint: data.meta.fingerprint,
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
            validation: writes ? valData : undefined,
            checkpoint: writes ? { store: checkpointFolder(out), everySteps: s.checkpointEvery, meta } : undefined,
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
      await pipeline?.close();
    }
    if (rank) sink.note(rank.summary());
    sink.close();
    if (!writes) return { out, steps: done?.steps ?? trainer.step, images: [], note: rank?.summary() };
    const series = [
      { name: 'train loss', color: '#1f77b4', points: smooth(trainLoss) },
      { name: 'validation loss', color: '#d62728', points: valLoss },
    ];
    const svg = join(out, 'loss.svg');
    const png = join(out, 'loss.png');
    const title = `${preset.name} on ${data.meta.corpus.split(' (')[0]}`;
    await writeFileAtomically(svg, lossCurveSvg(series, title));
    await writeFileAtomically(png, lossCurvePng(series, title));
    return {
      out,
      steps: done?.steps ?? trainer.step,
      valBitsPerChar: done?.valLoss === undefined || mlm ? undefined : done.valLoss / perToken / Math.LN2,
      images: [svg, png],
    };
  } finally {
    data.close();
  }
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
  command: 'train' | 'finetune' = 'train',
): Promise<void> {
  const s = trainSettings(argv, {}, command);
  if (s === 'help') {
    io.stdout.write(`${command === 'finetune' ? FINETUNE_HELP : TRAIN_HELP}\n`);
    return;
  }
  // --workers N: this process starts the ranks and waits for them.
  if (s.distributed?.workers !== undefined) return launchWorkers(command, argv, s.distributed);
  const json = argv.includes('--json');
  const sink: ProgressSink = json
    ? new JsonProgress((line) => io.stdout.write(`${line}\n`))
    : new TextProgress(io.stdout, { steps: s.steps, seconds: s.timeBudget });
  const r = await runTrain(s, sink);
  if (r.note !== undefined) {
    io.stdout.write(`${r.note}\n`);
    return;
  }
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
