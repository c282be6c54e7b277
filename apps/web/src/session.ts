// One training run in the page: a tokenizer trained on the user's text (characters or BPE), a preset's graph, its
// steps driven batch by batch (the page yields to the browser between steps) either compiled and
// run in onnxruntime-web or eagerly on TF.js cpu, and generation on a logits-only eager runtime
// sharing the trained parameters. Nothing here touches the DOM, and the text never leaves the page.
import { type CompiledStepper, compiledStepper, useOrt } from '@ganglion/backend-onnx';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import {
  type Backend,
  type Batch,
  type CheckpointFiles,
  type CheckpointState,
  CharTokenizer,
  CheckpointError,
  type Graph,
  type LmDataset,
  Runtime,
  type SamplingOptions,
  type StepResult,
  TOKENS,
  type Tokenizer,
  type Trainer,
  checkpointFiles,
  checkpointFromFiles,
  createTrainingContainer,
  dispose,
  generate,
  lmDataset,
  runtimeModel,
  setBackend,
} from '@ganglion/core';
import { bindLayerResolver, layersModule } from '@ganglion/layers';
import { builtinTokenizers } from '@ganglion/text';
import { defaultWasmThreads, loadOrtWeb, type OrtWebEngine } from './ort-web.js';
import { WEB_PRESETS, type WebPreset } from './presets.js';
import { InputError } from './text-input.js';

/**
 * Where training steps run: 'ort-web' compiles each step (forward, backward, clipping, optimizer)
 * into one ONNX graph run by onnxruntime-web (wasm); 'ort-webgpu' runs the same graph on
 * onnxruntime-web's WebGPU execution provider (ops it lacks fall back to wasm); 'tfjs' runs them eagerly on TF.js's cpu
 * kernels. Generation and checkpoints use the eager runtime either way, synced from onnxruntime.
 */
export type Engine = 'ort-web' | 'ort-webgpu' | 'tfjs';

export const ENGINES: Readonly<Record<Engine, string>> = {
  'ort-web': 'onnxruntime-web (compiled step, wasm)',
  'ort-webgpu': 'onnxruntime-web (compiled step, WebGPU)',
  tfjs: 'TF.js cpu (eager)',
};

/** Whether this browser offers WebGPU at all (an adapter may still be refused). */
export const hasWebGpu = (): boolean => 'gpu' in navigator && navigator.gpu !== undefined;

export interface SessionOptions {
  readonly preset: WebPreset;
  readonly seed: number;
  /** Default the preset's. */
  readonly seqLen?: number;
  /** Default the preset's. */
  readonly batchSize?: number;
}

let backendReady: Promise<Backend> | undefined;

/**
 * Bind onnxruntime-web (the build `loadOrtWeb` picks) for the compiled steps of
 * `engine`: wasm, or WebGPU with wasm for the ops WebGPU lacks. Sessions made before keep theirs.
 */
async function bindOrtWeb(engine: OrtWebEngine): Promise<void> {
  if (engine === 'ort-webgpu') {
    if (!hasWebGpu()) throw new InputError('this browser has no WebGPU; choose the wasm engine');
    if (!(await navigator.gpu.requestAdapter()))
      throw new InputError('this browser offers WebGPU but no adapter for it; choose the wasm engine');
  }
  useOrt(await loadOrtWeb(engine), {
    executionProviders: engine === 'ort-webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
    numThreads: defaultWasmThreads(),
  });
}

/** The page's one backend: tfjs on its cpu kernels (no extra files to serve). */
function pageBackend(): Promise<Backend> {
  backendReady ??= TfjsBackend.create('cpu').then((b) => {
    setBackend(b);
    return b;
  });
  return backendReady;
}

function trainingContainer(preset: WebPreset, backend: Backend) {
  return createTrainingContainer({
    ...preset.plugins,
    lr: preset.lr,
    backend,
    modules: [layersModule],
    configure: bindLayerResolver,
  });
}

/** The preset's tokenizer, trained on `text` (`char`: exactly its characters; `bpe:N`: at most N byte-level BPE tokens). */
function trainTokenizer(preset: WebPreset, text: string): Tokenizer {
  if (preset.tokenizer === 'char') return CharTokenizer.fromText(text);
  const [kind, arg] = preset.tokenizer.split(':');
  const trainer = builtinTokenizers.plugin(kind).trainer!(arg);
  trainer.add(text);
  return trainer.finish();
}

/** A checkpoint the page can train and generate with: a language model with a tokenizer. */
function checkLanguageModel(graph: Graph, tokenizer: unknown, name: string): Tokenizer {
  const kinds = Object.keys(WEB_PRESETS).join(', ');
  const has = (what: string, ok: boolean) => {
    if (!ok)
      throw new CheckpointError(
        `${name}/graph.json: ${what}; this is another kind of model, and the page trains language models (${kinds})`,
      );
  };
  has(
    'the graph has no "ids" input',
    graph.inputs.some((i) => i.name === 'ids'),
  );
  has(
    'the graph has no "labels" input',
    graph.inputs.some((i) => i.name === 'labels'),
  );
  has('the graph has no "logits" output', graph.outputs.logits !== undefined);
  has('the graph has no "loss" output', graph.outputs.loss !== undefined);
  if (tokenizer === undefined)
    throw new CheckpointError(`${name}/meta.json: no tokenizer, so the page cannot read or write its text`);
  let tok: Tokenizer;
  try {
    tok = builtinTokenizers.fromJSON(tokenizer);
  } catch (e) {
    throw new CheckpointError(`${name}/tokenizer.json: ${(e as Error).message}`);
  }
  const width = graph.spec(graph.outputs.logits).shape.at(-1);
  if (width !== tok.vocabSize)
    throw new CheckpointError(
      `${name}: the tokenizer has ${tok.vocabSize} tokens, but the "logits" output of graph.json has ${String(width)}`,
    );
  return tok;
}

export class TrainingSession {
  private data: LmDataset | undefined;
  private text: string | undefined;
  private batches: Iterator<Batch> | undefined;
  private readonly generator: Runtime;
  /** The compiled stepper and the engine its sessions run on. */
  private compiled: { readonly stepper: CompiledStepper; readonly engine: Engine } | undefined;
  /** onnxruntime holds newer weights than the runtime's ParamStore. */
  private unsynced = false;
  /** Where the next steps run (it may change between steps). */
  engine: Engine = 'ort-web';

  private constructor(
    readonly options: SessionOptions,
    readonly tokenizer: Tokenizer,
    readonly runtime: Runtime,
    readonly trainer: Trainer,
    readonly seqLen: number,
    readonly batchSize: number,
  ) {
    this.generator = new Runtime(runtime.graph.subgraph(['logits']), {
      params: runtime.params,
      backend: runtime.backend,
    });
  }

  /** A new model for `text`; throws a DataError when the text is shorter than one batch. */
  static async create(text: string, options: SessionOptions): Promise<TrainingSession> {
    const backend = await pageBackend();
    const { preset, seed } = options;
    const tokenizer = trainTokenizer(preset, text);
    const runtime = new Runtime(preset.build(tokenizer.vocabSize), { seed, backend });
    const session = new TrainingSession(
      options,
      tokenizer,
      runtime,
      trainingContainer(preset, backend).get(TOKENS.Trainer),
      options.seqLen ?? preset.seqLen,
      options.batchSize ?? preset.batchSize,
    );
    session.useText(text);
    return session;
  }

  /**
   * A checkpoint's files (the ones the CLI writes, or the page downloads): its model, weights,
   * optimizer state and step, to generate with or to train further. `name` names it in messages.
   */
  static async fromCheckpoint(files: CheckpointFiles, name: string): Promise<TrainingSession> {
    const backend = await pageBackend();
    const resolve = trainingContainer(WEB_PRESETS['char-lstm'], backend).get(TOKENS.LayerResolver);
    const loaded = checkpointFromFiles(files, { resolve, backend, name });
    const tokenizer = checkLanguageModel(loaded.graph, loaded.tokenizer, name);
    const meta = loaded.meta as Readonly<Record<string, unknown>>;
    const preset = WEB_PRESETS[String(meta.preset)] ?? WEB_PRESETS['char-lstm'];
    const trainer = trainingContainer(preset, backend).get(TOKENS.Trainer);
    if (loaded.optimizerState && loaded.optimizerState.name === preset.plugins.optimizer)
      trainer.optimizer.setState(loaded.optimizerState, backend);
    trainer.resumeFrom(loaded.meta);
    const int = (v: unknown, fallback: number) => (Number.isInteger(v) && (v as number) > 0 ? (v as number) : fallback);
    return new TrainingSession(
      { preset, seed: Number.isInteger(meta.seed) ? (meta.seed as number) : 0 },
      tokenizer,
      new Runtime(loaded.graph, { params: loaded.params, backend }),
      trainer,
      int(meta.seqLen, preset.seqLen),
      int(meta.batchSize, preset.batchSize),
    );
  }

  /** Train on `text` from now on (its characters must be in the model's vocabulary). */
  useText(text: string): void {
    if (text === this.text) return;
    const unknown = this.tokenizer.unknown(text);
    if (unknown.length > 0)
      throw new InputError(
        `the text has characters this model has never seen (${unknown
          .slice(0, 10)
          .map((c) => JSON.stringify(c))
          .join(', ')}${unknown.length > 10 ? ', …' : ''}); train a new model on it instead`,
      );
    this.data = lmDataset(this.tokenizer.encode(text), {
      seqLen: this.seqLen,
      batchSize: this.batchSize,
      shuffle: true,
      seed: this.options.seed,
      backend: this.runtime.backend,
    });
    this.text = text;
    this.batches = this.data.batches(this.trainer.epoch)[Symbol.iterator]();
  }

  get step(): number {
    return this.trainer.step;
  }

  /** One update on the next batch (a new shuffled epoch when one ends). */
  async trainStep(): Promise<StepResult> {
    if (!this.data || !this.batches) throw new InputError('no text to train on yet');
    let next = this.batches.next();
    if (next.done) {
      this.trainer.epoch++;
      this.trainer.batchInEpoch = 0;
      this.batches = this.data.batches(this.trainer.epoch)[Symbol.iterator]();
      next = this.batches.next();
    }
    const batch = next.value as Batch;
    try {
      let result: StepResult;
      if (this.engine !== 'tfjs') {
        // A new engine gets a new stepper, its sessions on the engine's execution providers.
        if (this.compiled?.engine !== this.engine) {
          await this.dropStepper();
          await bindOrtWeb(this.engine);
          this.compiled = { stepper: compiledStepper(this.runtime, this.trainer), engine: this.engine };
        }
        result = await this.compiled.stepper.step(batch);
        this.trainer.step = result.step;
        this.unsynced = true;
      } else {
        await this.dropStepper();
        result = this.trainer.trainStep(this.runtime, batch, { seed: this.options.seed });
      }
      this.trainer.batchInEpoch++;
      return result;
    } finally {
      dispose(Object.values(batch));
    }
  }

  /** Sync, then release the compiled stepper and its sessions. */
  private async dropStepper(): Promise<void> {
    if (!this.compiled) return;
    await this.sync();
    await this.compiled.stepper.compiled.dispose();
    this.compiled = undefined;
  }

  /** Bring onnxruntime's weights and optimizer state back into the runtime and the trainer. */
  async sync(): Promise<void> {
    if (!this.unsynced || !this.compiled) return;
    await this.compiled.stepper.sync();
    this.unsynced = false;
  }

  /**
   * Text after `prompt` (without it), written token by token through `onText`; temperature 0 is
   * greedy. The same prompt, settings and weights give what `ganglion generate` gives.
   */
  async generate(
    prompt: string,
    maxTokens: number,
    sampling: SamplingOptions,
    onText: (text: string) => void = () => {},
  ): Promise<string> {
    await this.sync();
    return generate(runtimeModel(this.generator), this.tokenizer, prompt, maxTokens, sampling, onText);
  }

  /** What a checkpoint of this run holds (graph, weights, optimizer state, meta with the tokenizer). */
  async checkpointState(): Promise<CheckpointState> {
    await this.sync();
    return {
      graph: this.runtime.graph,
      params: this.runtime.params,
      optimizerState: this.trainer.optimizer.getState(),
      meta: {
        step: this.trainer.step,
        epoch: this.trainer.epoch,
        batchInEpoch: this.trainer.batchInEpoch,
        preset: this.options.preset.name,
        seqLen: this.seqLen,
        batchSize: this.batchSize,
        seed: this.options.seed,
        trainedIn: 'browser',
        tokenizer: this.tokenizer.toJSON(),
      },
    };
  }

  /** The checkpoint's files, the bytes the CLI writes: what the page downloads and keeps in this browser. */
  async checkpointFiles(): Promise<CheckpointFiles> {
    return checkpointFiles(await this.checkpointState(), { name: `step ${this.step}` });
  }
}
