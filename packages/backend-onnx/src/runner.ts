// OnnxRuntimeRunner: runs a Ganglion graph's forward in onnxruntime-node. The graph is traced once
// per input signature (shapes and dtypes, and whether state is streamed), the InferenceSession is
// cached, and real tensors are fed. onnxruntime's `run` is asynchronous, so `forward` is too.
//
//   const runner = new OnnxRuntimeRunner(graph, runtime.params);
//   const { logits } = await runner.forward({ ids });                      // Tensors
//   for (const id of prompt) await runner.forward({ ids: { data: [id], shape: [1, 1], dtype: 'int32' } }, { stream: true });
import {
  type Backend,
  type DType,
  type Graph,
  GraphError,
  type ParamStore,
  type Shape,
  type Tensor,
  formatShape,
  getBackend,
  tensor,
} from '@ganglion/core';
import { type ExportOptions, type ExportedModel, PAST_SEQUENCE_LENGTH, traceModel } from './export.js';
import { POSITION_IDS } from './trace-backend.js';
import { type FeedValue, type OrtValue, createSession, feedSignature, feedSpec, runSession } from './ort-tensors.js';
import type * as ort from 'onnxruntime-common';

export interface RunnerOptions extends Omit<ExportOptions, 'inputs' | 'stateful'> {
  /**
   * 'exact' (default): trace once per concrete input signature (every dim fixed in the model).
   * 'dynamic': trace once with the graph's declared (symbolic) input shapes and reuse that session
   * for every signature (needs native lowerings for recurrences over a symbolic time dim).
   */
  readonly shapes?: 'exact' | 'dynamic';
  /** Backend the output tensors of `forward` are created on (default: the current backend). */
  readonly backend?: Backend;
  readonly sessionOptions?: ort.InferenceSession.SessionOptions;
  /** What onnxruntime's errors are prefixed with (default: `onnxruntime session of the graph`). */
  readonly name?: string;
}

export interface RunOptions {
  /** Carry recurrent state (LSTM h/c) from call to call, like `Runtime.forward(feeds, { stream: true })`. */
  readonly stream?: boolean;
}

interface Entry {
  readonly model: ExportedModel;
  readonly session: ort.InferenceSession;
}

export class OnnxRuntimeRunner {
  private readonly sessions = new Map<string, Promise<Entry>>();
  private state?: Record<string, OrtValue>;
  /** Tokens fed so far in streaming (the next wave's first position). */
  private position = 0;

  constructor(
    readonly graph: Graph,
    private readonly params: ParamStore,
    private readonly options: RunnerOptions = {},
  ) {}

  /** Number of cached sessions (one per input signature). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Run the graph on `feeds`; returns every exported output as a Tensor. */
  async forward(feeds: Readonly<Record<string, FeedValue>>, opts: RunOptions = {}): Promise<Record<string, Tensor>> {
    const raw = await this.run(feeds, opts);
    const backend = this.options.backend ?? getBackend();
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, tensor(v.data, v.shape, v.dtype, backend)]));
  }

  /** Like `forward`, but returns onnxruntime's typed arrays without making Tensors. */
  async run(feeds: Readonly<Record<string, FeedValue>>, opts: RunOptions = {}): Promise<Record<string, OrtValue>> {
    const signature = feedSignature(this.graph, feeds);
    const stream = opts.stream ?? false;
    const key = `${stream ? 'stream' : 'plain'}|${this.options.shapes === 'dynamic' ? 'dynamic' : JSON.stringify(signature)}`;
    const entry = await this.entry(key, signature, stream);
    const all: Record<string, FeedValue> = { ...feeds };
    if (stream) {
      // Successive calls may differ in time length (a prompt, then one token at a time), not in batch.
      for (const s of entry.model.state) {
        const prev = this.state?.[s.output];
        if (prev && !prev.shape.every((d, k) => typeof s.shape[k] !== 'number' || d === s.shape[k])) {
          throw new GraphError(
            `streaming: state "${s.output}" has shape ${formatShape(prev.shape)}, but this call needs ${formatShape(s.shape)}; call resetState() when the batch size changes`,
          );
        }
        all[s.input] = prev ?? zeros(s.shape, s.dtype, feeds, this.graph, s.input);
      }
    }
    const positionsInput = entry.model.inputs.find((i) => i.name === POSITION_IDS);
    let time = 0;
    if (positionsInput) {
      // The wave's stream positions (only stateful traces take them): this.position onwards, the
      // same in every row.
      const [batch, t] = resolveDims(positionsInput.shape, feeds, this.graph, POSITION_IDS);
      time = t;
      all[POSITION_IDS] = {
        data: Int32Array.from({ length: batch * t }, (_, k) => this.position + (k % t)),
        shape: [batch, t],
        dtype: 'int32',
      };
    }
    for (const r of entry.model.positionRows) {
      // This wave's rows of a position table, for its stream positions (every row of the batch alike).
      const t = time || Number(resolveDims(r.shape, feeds, this.graph, r.input)[1]);
      all[r.input] = {
        data: Float32Array.from(r.rows(stream ? this.position : 0, t)),
        shape: [1, t, r.width],
        dtype: 'float32',
      };
    }
    const out = await runSession(entry.session, all);
    const result: Record<string, OrtValue> = {};
    const carried: Record<string, OrtValue> = {};
    const stateOutputs = new Set(entry.model.state.map((s) => s.output));
    for (const [k, v] of Object.entries(out)) (stateOutputs.has(k) ? carried : result)[k] = v;
    if (stream) {
      this.state = carried;
      this.position += time;
    }
    return result;
  }

  /** Forget the state carried between streaming calls. */
  resetState(): void {
    this.state = undefined;
    this.position = 0;
  }

  /** Release every cached session. */
  async dispose(): Promise<void> {
    const entries = [...this.sessions.values()];
    this.sessions.clear();
    this.state = undefined;
    for (const e of entries) await (await e).session.release();
  }

  private entry(key: string, signature: Record<string, { shape: readonly number[] }>, stream: boolean): Promise<Entry> {
    let entry = this.sessions.get(key);
    if (!entry) {
      const { shapes, backend: _backend, sessionOptions, name, ...exportOptions } = this.options;
      const inputs =
        shapes === 'dynamic' ? undefined : Object.fromEntries(Object.entries(signature).map(([k, v]) => [k, v.shape]));
      entry = (async () => {
        // Position tables are fed per wave, so a long stream grows no table in the model.
        const model = traceModel(this.graph, this.params, {
          positionRows: 'input',
          ...exportOptions,
          inputs,
          stateful: stream,
        });
        const session = await createSession(
          model.bytes,
          name ?? 'onnxruntime session of the graph',
          sessionOptions ?? {},
        );
        return { model, session };
      })();
      // A failed trace is not cached: the next call retries (and reports the error again).
      entry.catch(() => this.sessions.delete(key));
      this.sessions.set(key, entry);
    }
    return entry;
  }
}

/** Concrete dims of a model input: symbolic ones read off the feeds; an empty cache's length is 0. */
function resolveDims(shape: Shape, feeds: Readonly<Record<string, FeedValue>>, graph: Graph, name: string): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    if (d === PAST_SEQUENCE_LENGTH) return 0;
    for (const i of graph.inputs) {
      const k = i.spec.shape.indexOf(d);
      if (k >= 0 && feeds[i.name]) return feedSpec(feeds[i.name]).shape[k];
    }
    throw new GraphError(`model input "${name}" has dim "${d}", which no fed input determines`);
  });
}

/** Zeros for a state input on the first streaming call (an empty KV cache). */
function zeros(
  shape: Shape,
  dtype: DType,
  feeds: Readonly<Record<string, FeedValue>>,
  graph: Graph,
  name: string,
): FeedValue {
  const dims = resolveDims(shape, feeds, graph, name);
  const n = dims.reduce((a, b) => a * b, 1);
  return { data: dtype === 'int32' ? new Int32Array(n) : new Float32Array(n), shape: dims, dtype };
}
