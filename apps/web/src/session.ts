// One training run in the page: a character tokenizer over the user's text, a preset's graph on the
// tfjs backend, the trainer's step driven batch by batch (the page yields to the browser between
// steps), and generation on a logits-only runtime sharing the trained parameters. Nothing here
// touches the DOM, and the text never leaves the page.
import { TfjsBackend } from '@ganglion/backend-tfjs';
import {
  type Backend,
  type Batch,
  type CheckpointState,
  CharTokenizer,
  type LmDataset,
  Runtime,
  type SamplingOptions,
  type StepResult,
  TOKENS,
  type Trainer,
  createTrainingContainer,
  dispose,
  lmDataset,
  setBackend,
} from '@ganglion/core';
import { bindLayerResolver, layersModule } from '@ganglion/layers';
// The CLI's generation loop (greedy, sampled, streamed), imported rather than copied; see W2-requests.
import { generate, runtimeModel } from '../../cli/src/generation.js';
import type { WebPreset } from './presets.js';

export interface SessionOptions {
  readonly preset: WebPreset;
  readonly seed: number;
  /** Default the preset's. */
  readonly seqLen?: number;
  /** Default the preset's. */
  readonly batchSize?: number;
}

let backendReady: Promise<Backend> | undefined;

/** The page's one backend: tfjs on its cpu kernels (no extra files to serve). */
function pageBackend(): Promise<Backend> {
  backendReady ??= TfjsBackend.create('cpu').then((b) => {
    setBackend(b);
    return b;
  });
  return backendReady;
}

export class TrainingSession {
  private batches: Iterator<Batch>;
  private readonly generator: Runtime;

  private constructor(
    readonly options: SessionOptions,
    readonly tokenizer: CharTokenizer,
    readonly runtime: Runtime,
    readonly trainer: Trainer,
    private readonly data: LmDataset,
    readonly seqLen: number,
    readonly batchSize: number,
  ) {
    this.batches = data.batches(0)[Symbol.iterator]();
    this.generator = new Runtime(runtime.graph.subgraph(['logits']), {
      params: runtime.params,
      backend: runtime.backend,
    });
  }

  /** Build the model for `text`; throws a DataError when the text is shorter than one batch. */
  static async create(text: string, options: SessionOptions): Promise<TrainingSession> {
    const backend = await pageBackend();
    const { preset, seed } = options;
    const seqLen = options.seqLen ?? preset.seqLen;
    const batchSize = options.batchSize ?? preset.batchSize;
    const tokenizer = CharTokenizer.fromText(text);
    const data = lmDataset(tokenizer.encode(text), { seqLen, batchSize, shuffle: true, seed, backend });
    const container = createTrainingContainer({
      ...preset.plugins,
      lr: preset.lr,
      backend,
      modules: [layersModule],
      configure: bindLayerResolver,
    });
    const graph = preset.build(tokenizer.vocabSize);
    const runtime = new Runtime(graph, { seed, backend });
    return new TrainingSession(options, tokenizer, runtime, container.get(TOKENS.Trainer), data, seqLen, batchSize);
  }

  get step(): number {
    return this.trainer.step;
  }

  /** One update on the next batch (a new shuffled epoch when one ends). */
  trainStep(): StepResult {
    let next = this.batches.next();
    if (next.done) {
      this.trainer.epoch++;
      this.trainer.batchInEpoch = 0;
      this.batches = this.data.batches(this.trainer.epoch)[Symbol.iterator]();
      next = this.batches.next();
    }
    const batch = next.value as Batch;
    try {
      const result = this.trainer.trainStep(this.runtime, batch, { seed: this.options.seed });
      this.trainer.batchInEpoch++;
      return result;
    } finally {
      dispose(Object.values(batch));
    }
  }

  /**
   * Text after `prompt` (without it), written token by token through `onText`; temperature 0 is
   * greedy. The same prompt, settings and weights give what `ganglion generate` gives.
   */
  generate(
    prompt: string,
    maxTokens: number,
    sampling: SamplingOptions,
    onText: (text: string) => void = () => {},
  ): Promise<string> {
    return generate(runtimeModel(this.generator), this.tokenizer, prompt, maxTokens, sampling, onText);
  }

  /** What a checkpoint of this run holds (graph, weights, optimizer state, meta with the tokenizer). */
  checkpointState(): CheckpointState {
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
}
