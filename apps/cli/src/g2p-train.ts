// `ganglion train --preset g2p` (or g2p-transformer): an encoder–decoder trained on CMUdict (text's
// cmudictG2p: stress digits stripped, split by word) to spell words as phonemes. The data is every
// (word, pronunciation) pair of the training words, in padded batches bucketed by length (core's
// seq2seqDataset), so the compiled step sees a few batch shapes. Each validation computes the loss
// on the held-out pairs and decodes every held-out word greedily with the model as it stands (in
// onnxruntime from a fresh trace on --backend onnx, else in the framework), scoring the words
// against all their pronunciations: the `epoch` and `done` events carry valWordErrorRate and
// valPhonemeErrorRate (fractions). The checkpoint's meta.json keeps the model's options and both
// vocabularies (`g2p`), which translate, export and resuming read.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { lastValueFrom, map, tap } from 'rxjs';
import {
  type Backend,
  CheckpointError,
  type LoadedCheckpoint,
  Runtime,
  type SequencePair,
  type Stepper,
  SymbolVocab,
  TOKENS,
  type TrainEvent,
  type Trainer,
  seq2seqDataset,
} from '@ganglion/core';
import { checkpointFolder, loadCheckpoint, writeFileAtomically } from '@ganglion/core/node';
import { compiledStepper } from '@ganglion/backend-onnx/node';
import { seq2seqGraph } from '@ganglion/layers';
import { type G2pData, type G2pEntry, cmudictG2p } from '@ganglion/text/node';
import { UsageError } from './args.js';
import { buildContainer, createBackend } from './container.js';
import { G2P_META_KEY, type ErrorRates, type G2pModel, errorRates, g2pModelFrom, g2pModelJson } from './g2p.js';
import { pluginChoice } from './plugin-flags.js';
import { lossCurvePng, lossCurveSvg } from './plot.js';
import { type Seq2SeqModel, PRESETS, describeModel, seq2seqOptions, sizedModel } from './presets.js';
import type { ProgressSink } from './progress.js';
import { type RunFolder, resumeSettings } from './run-folder.js';
import { frameworkEngine, onnxEngine, traceSeq2Seq } from './seq2seq-engines.js';
import { type TrainResult, type TrainSettings, alreadyAtSteps } from './commands/train.js';

/** Whether a preset name is an encoder–decoder's (trained by this file). */
export function isSeq2SeqPreset(name: string | undefined): boolean {
  return name !== undefined && PRESETS[name]?.model.kind === 'seq2seq';
}

/** Whether the checkpoint in `dir` is a g2p run's (its meta.json has "g2p"); false when there is none to read. */
export async function isG2pRunFolder(dir: string): Promise<boolean> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
    return meta !== null && typeof meta === 'object' && meta[G2P_META_KEY] !== undefined;
  } catch {
    return false;
  }
}

/** Pairs are padded to a multiple of this many symbols, source and target to one length. */
const BUCKET = 8;
/** Rows of a validation batch (loss and decoding). */
const VALIDATION_BATCH = 256;

/** The flags that choose text data or a language model's windows, refused for g2p. */
function checkFlags(s: TrainSettings, preset: string): void {
  const wrong = (
    [
      ['corpus', s.corpus],
      ['data', s.data],
      ['tokenizer', s.tokenizer],
      ['seq-len', s.seqLen],
      ['log-grad-norms', s.logGradNorms],
    ] as const
  ).find(([, v]) => v !== undefined);
  if (wrong)
    throw new UsageError(
      `--${wrong[0]}: preset ${preset} trains on CMUdict's words and pronunciations (its own data, letters and phonemes); drop --${wrong[0]}`,
    );
}

/**
 * The held-out words each validation decodes: `count` of them evenly spaced through the sorted list
 * (word floor(i · length / count) for i < count), or all.
 */
export function validationWords<T>(heldOut: readonly T[], count: number | undefined): T[] {
  if (count === undefined || count >= heldOut.length) return [...heldOut];
  return Array.from({ length: count }, (_, i) => heldOut[Math.floor((i * heldOut.length) / count)]);
}

/** Each pronunciation of each word as a pair of ids. */
function pairsOf(entries: readonly G2pEntry[], m: G2pModel): SequencePair[] {
  return entries.flatMap((e) =>
    e.pronunciations.map((p) => ({ source: m.graphemes.encode([...e.word]), target: m.phonemes.encode(p) })),
  );
}

/** A new model's record: vocabularies from the training words, lengths from the data's limit. */
function newModel(shape: Seq2SeqModel, data: G2pData): G2pModel {
  const graphemes = SymbolVocab.fromSequences(data.train.map((e) => [...e.word]));
  const phonemes = SymbolVocab.fromSequences(data.train.flatMap((e) => e.pronunciations));
  return {
    model: seq2seqOptions(shape, graphemes.size, phonemes.size),
    graphemes,
    phonemes,
    maxSourceLength: data.maxLength,
    maxTargetLength: data.maxLength,
    stress: data.stress,
  };
}

/** Train (or resume) a g2p run in `folder`; see the header. */
export async function trainSeq2Seq(folder: RunFolder, s: TrainSettings, sink: ProgressSink): Promise<TrainResult> {
  const out = folder.path;
  const backend = await createBackend(s.backend);
  const resolver = buildContainer({ backend, lr: 1 }).get(TOKENS.LayerResolver);
  let loaded: LoadedCheckpoint | undefined;
  if (folder.resume) loaded = await loadCheckpoint(out, { resolve: resolver, backend });
  const metaFile = loaded && join(loaded.loadedFrom, 'meta.json');
  if (loaded && loaded.meta[G2P_META_KEY] === undefined)
    throw new UsageError(
      `--resume: ${metaFile} is not a g2p run (no "${G2P_META_KEY}"); resume it without --preset ${s.preset}`,
    );
  const saved = loaded
    ? resumeSettings(loaded.meta, { preset: s.preset, batchSize: s.batch, seed: s.seed }, loaded.loadedFrom)
    : {};
  const presetName = s.preset ?? saved.preset ?? 'g2p';
  const preset = PRESETS[presetName];
  if (preset?.model.kind !== 'seq2seq') throw new UsageError(`--preset ${presetName} is not an encoder–decoder`);
  checkFlags(s, presetName);
  const atSteps = loaded && alreadyAtSteps(out, loaded.meta.step, s.steps);
  if (atSteps) return atSteps;
  const seed = saved.seed ?? s.seed ?? 0;
  const batchSize = saved.batchSize ?? s.batch ?? preset.batchSize;
  const data = cmudictG2p();
  const fingerprint = `${data.name}: ${data.rule}`;
  if (loaded) resumeSettings(loaded.meta, { corpusFingerprint: fingerprint }, loaded.loadedFrom);
  const m = loaded
    ? g2pModelFrom(loaded.meta[G2P_META_KEY], metaFile!)
    : newModel(sizedModel(preset, s.size) as Seq2SeqModel, data);
  // Held-out words the letters cannot spell (none in CMUdict as split) cannot be asked.
  const heldOut = data.heldOut.filter(
    (e) =>
      m.graphemes.unknown([...e.word]).length === 0 &&
      e.pronunciations.every((p) => m.phonemes.unknown(p).length === 0),
  );
  const decoded = validationWords(heldOut, s.valWords);

  const container = buildContainer({
    backend,
    lr: s.lr ?? preset.lr,
    ...pluginChoice(s.plugins, { optimizer: preset.optimizer, clipping: preset.clip }),
  });
  const trainer: Trainer = container.get(TOKENS.Trainer);
  let runtime: Runtime;
  if (loaded) {
    runtime = new Runtime(loaded.graph, { params: loaded.params, backend });
    if (loaded.optimizerState) trainer.optimizer.setState(loaded.optimizerState, backend);
    trainer.resumeFrom(loaded.meta);
    sink.note(`resuming ${out} at step ${trainer.step}`);
  } else {
    runtime = new Runtime(seq2seqGraph(m.model), { seed, backend });
  }
  const trainPairs = pairsOf(data.train, m);
  const trainData = seq2seqDataset(trainPairs, {
    batchSize,
    bucket: BUCKET,
    sharedLength: true,
    shuffle: true,
    seed,
    dropLast: true,
  });
  const valData = seq2seqDataset(pairsOf(heldOut, m), {
    batchSize: VALIDATION_BATCH,
    bucket: BUCKET,
    sharedLength: true,
  });
  const compiled = s.backend === 'onnx' ? compiledStepper(runtime, trainer, { gradAccum: s.gradAccum }) : undefined;
  const shape = loaded ? undefined : (sizedModel(preset, s.size) as Seq2SeqModel);
  sink.note(
    `${presetName}: ${shape ? describeModel(shape) : `${m.model.arch} encoder–decoder (resumed)`}, ${runtime.graph.paramCount().toLocaleString('en-US')} parameters; ${m.graphemes.size - 3} letters, ${m.phonemes.size - 3} phonemes; ${compiled ? 'training step compiled to ONNX, run in onnxruntime' : `backend ${backend.name}`}`,
  );
  sink.note(
    `data: ${data.name}: ${data.train.length.toLocaleString('en-US')} training words (${trainPairs.length.toLocaleString('en-US')} pronunciations), ${heldOut.length.toLocaleString('en-US')} held-out words; ${data.rule}`,
  );
  sink.charactersPerToken(Number.NaN);

  // Validation: the loss where the steps run, then every held-out word decoded greedily.
  let rates: ErrorRates | undefined;
  const validate = async (dataset: Parameters<NonNullable<Stepper['evaluate']>>[0]): Promise<number> => {
    const loss = compiled?.evaluate ? await compiled.evaluate(dataset) : await trainer.evaluate(runtime, dataset);
    await compiled?.sync();
    const t0 = performance.now();
    const engine = compiled ? await onnxEngineOf(m, runtime) : frameworkEngine(m, runtime.params, backend);
    try {
      rates = await errorRates(engine, m, decoded, { beam: 1, batch: VALIDATION_BATCH });
    } finally {
      await engine.close();
    }
    sink.note(
      `validation: ${decoded.length.toLocaleString('en-US')} held-out words decoded greedily in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
    );
    return loss;
  };
  const stepper: Stepper = {
    step: compiled ? (b) => compiled.step(b) : async (b) => trainer.trainStep(runtime, b, { seed }),
    sync: () => compiled?.sync(),
    evaluate: validate,
  };
  const meta = () => ({
    preset: presetName,
    [G2P_META_KEY]: g2pModelJson(m),
    corpus: data.name,
    corpusFingerprint: fingerprint,
    seed,
    batchSize,
  });
  const trainLoss: [number, number][] = [];
  const valLoss: [number, number][] = [];
  let done: Extract<TrainEvent, { type: 'done' }> | undefined;
  await lastValueFrom(
    trainer
      .fit(runtime, trainData, {
        steps: s.steps,
        timeBudgetSeconds: s.timeBudget,
        seed,
        validation: valData,
        checkpoint: { store: checkpointFolder(out), everySteps: s.checkpointEvery, meta },
        stepper,
      })
      .pipe(
        map((e) =>
          (e.type === 'epoch' || e.type === 'done') && rates
            ? { ...e, valWordErrorRate: rates.wordErrorRate, valPhonemeErrorRate: rates.phonemeErrorRate }
            : e,
        ),
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
    { name: 'train loss', color: '#1f77b4', points: trainLoss },
    { name: 'validation loss', color: '#d62728', points: valLoss },
  ];
  const svg = join(out, 'loss.svg');
  const png = join(out, 'loss.png');
  const title = `${presetName} on CMUdict`;
  await writeFileAtomically(svg, lossCurveSvg(series, title));
  await writeFileAtomically(png, lossCurvePng(series, title));
  return { out, steps: done?.steps ?? trainer.step, images: [svg, png] };
}

/** The model as it stands, traced to ONNX and opened in onnxruntime. */
async function onnxEngineOf(m: G2pModel, runtime: Runtime) {
  const { encoder, decoder } = traceSeq2Seq(m, runtime.params);
  return onnxEngine(encoder.bytes, decoder.bytes, decoder.state);
}

/** A g2p checkpoint and its model; anything else is a CheckpointError naming its meta.json. */
export async function loadG2pCheckpoint(
  dir: string,
  backend: Backend,
): Promise<{ checkpoint: LoadedCheckpoint; model: G2pModel }> {
  const resolver = buildContainer({ backend, lr: 1 }).get(TOKENS.LayerResolver);
  const checkpoint = await loadCheckpoint(resolve(dir), { resolve: resolver, backend });
  const metaFile = join(checkpoint.loadedFrom, 'meta.json');
  if (checkpoint.meta[G2P_META_KEY] === undefined)
    throw new CheckpointError(
      `${metaFile}: not a g2p checkpoint (no "${G2P_META_KEY}"); train one with ganglion train --preset g2p`,
    );
  return { checkpoint, model: g2pModelFrom(checkpoint.meta[G2P_META_KEY], metaFile) };
}
