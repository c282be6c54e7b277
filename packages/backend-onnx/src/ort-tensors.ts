// Moving values between Ganglion and onnxruntime (the module bound by `useOrt`): any Ganglion Tensor (on any backend) or a
// typed array with a shape becomes an ort.Tensor; ort outputs come back as typed arrays. Sessions
// made by createSession have a name, and onnxruntime's own errors come back as one-line
// BackendErrors that name the model.
import { type DType, BackendError, type Graph, GraphError, type TensorData, Tensor, formatShape } from '@ganglion/core';
import type * as ort from 'onnxruntime-common';
import { currentOrt, withBinding } from './ort-runtime.js';
import { forWebGpu } from './webgpu-graph.js';

/** What a runner accepts as a feed: a Ganglion tensor, or values with a shape (and dtype). */
export type FeedValue =
  Tensor | { readonly data: ArrayLike<number>; readonly shape: readonly number[]; readonly dtype?: DType };

/** An output as onnxruntime returned it. */
export interface OrtValue {
  readonly data: TensorData;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export function feedSpec(v: FeedValue): { shape: readonly number[]; dtype: DType } {
  if (v instanceof Tensor) return { shape: v.shape as number[], dtype: v.dtype };
  return {
    shape: v.shape,
    dtype: v.dtype ?? (v.data instanceof Int32Array ? 'int32' : v.data instanceof Uint8Array ? 'bool' : 'float32'),
  };
}

export function toOrtTensor(name: string, v: FeedValue): ort.Tensor {
  const { shape, dtype } = feedSpec(v);
  const data = v instanceof Tensor ? v.dataSync() : v.data;
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n)
    throw new BackendError(`feed "${name}": ${data.length} values do not fill shape ${formatShape(shape)}`);
  const dims = [...shape];
  const { Tensor: OrtTensor } = currentOrt();
  if (dtype === 'float32')
    return new OrtTensor('float32', data instanceof Float32Array ? data : Float32Array.from(data), dims);
  if (dtype === 'int32') return new OrtTensor('int32', data instanceof Int32Array ? data : Int32Array.from(data), dims);
  return new OrtTensor(
    'bool',
    Uint8Array.from(data, (x) => (x !== 0 ? 1 : 0)),
    dims,
  );
}

export function fromOrtTensor(name: string, t: ort.Tensor): OrtValue {
  const shape = t.dims.map(Number);
  switch (t.type) {
    case 'float32':
      return { data: (t.data as Float32Array).slice(), shape, dtype: 'float32' };
    case 'int32':
      return { data: (t.data as Int32Array).slice(), shape, dtype: 'int32' };
    case 'bool':
      return { data: Uint8Array.from(t.data as Uint8Array), shape, dtype: 'bool' };
    case 'int64':
      return { data: Int32Array.from(t.data as BigInt64Array, Number), shape, dtype: 'int32' };
    default:
      throw new BackendError(`output "${name}" has onnxruntime type ${t.type}, which Ganglion has no dtype for`);
  }
}

/** What each session created by `createSession` is called in errors (a file, or what was traced). */
const sessionNames = new WeakMap<ort.InferenceSession, string>();

/** onnxruntime's message on one line, without its "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT :" prefix. */
function ortMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m
    .replace(/^\s*\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*/, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/**
 * An InferenceSession from a file path (Node) or model bytes, made by the bound onnxruntime with
 * its execution providers; `name` (e.g. `"model.onnx"`) prefixes
 * onnxruntime's own errors, here and in `runSession`, as BackendErrors.
 */
export async function createSession(
  model: string | Uint8Array,
  name: string,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const { InferenceSession } = currentOrt();
  const bound = withBinding(options);
  const webgpu = bound.executionProviders?.some((p) => (typeof p === 'string' ? p : p.name) === 'webgpu');
  // Errors only on WebGPU: its sessions warn that their shape ops run on the CPU, as onnxruntime means them to.
  const opts = webgpu ? { logSeverityLevel: 3 as const, ...bound } : bound;
  let session: ort.InferenceSession;
  try {
    session =
      typeof model === 'string'
        ? await InferenceSession.create(model, opts)
        : await InferenceSession.create(webgpu ? forWebGpu(model) : model, opts);
  } catch (e) {
    throw new BackendError(`${name}: onnxruntime cannot load the model: ${ortMessage(e)}`);
  }
  sessionNames.set(session, name);
  return session;
}

/** Run a session once on Ganglion feeds. */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Readonly<Record<string, FeedValue>>,
): Promise<Record<string, OrtValue>> {
  const input: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const v = feeds[name];
    if (v === undefined)
      throw new BackendError(
        `onnx model input "${name}" was not fed (feeds: ${Object.keys(feeds).join(', ') || 'none'})`,
      );
    input[name] = toOrtTensor(name, v);
  }
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await session.run(input);
  } catch (e) {
    throw new BackendError(
      `${sessionNames.get(session) ?? 'onnx model'}: onnxruntime failed to run the model: ${ortMessage(e)}`,
    );
  }
  const out: Record<string, OrtValue> = {};
  for (const name of session.outputNames) out[name] = fromOrtTensor(name, result[name]);
  return out;
}

/**
 * The shape and dtype of each of a graph's inputs as fed, checked against the graph: every input
 * fed, each fitting its declared dtype and concrete dims, and nothing else fed.
 */
export function feedSignature(
  graph: Graph,
  feeds: Readonly<Record<string, FeedValue>>,
): Record<string, { shape: readonly number[]; dtype: DType }> {
  const sig: Record<string, { shape: readonly number[]; dtype: DType }> = {};
  for (const i of graph.inputs) {
    const v = feeds[i.name];
    if (v === undefined)
      throw new GraphError(`input "${i.name}" was not fed (feeds: ${Object.keys(feeds).join(', ') || 'none'})`);
    const spec = feedSpec(v);
    const fits =
      spec.dtype === i.spec.dtype &&
      spec.shape.length === i.spec.shape.length &&
      i.spec.shape.every((d, k) => typeof d !== 'number' || d === spec.shape[k]);
    if (!fits)
      throw new GraphError(
        `input "${i.name}": fed ${formatShape(spec.shape)} ${spec.dtype}, expected ${formatShape(i.spec.shape)} ${i.spec.dtype}`,
      );
    sig[i.name] = { shape: [...spec.shape], dtype: spec.dtype };
  }
  for (const name of Object.keys(feeds)) {
    if (!graph.isInput(name))
      throw new GraphError(`"${name}" is not a graph input (inputs: ${graph.inputs.map((i) => i.name).join(', ')})`);
  }
  return sig;
}
