// The bytes pipeline stages exchange: a frame is a JSON head and named tensors, each tensor's values
// in its backend's own precision (float64 on the reference backend, float32 on tfjs), so a value
// crosses a process unchanged. Layout: u32 head length, the head's UTF-8 JSON (which lists each
// tensor's dtype, shape, element type and byte offset), then the tensors' bytes, 8-byte aligned.
// Runtime messages (Activation, Gradient, ParamGrad) travel as frames too (`messageFrame`).
//
//   const bytes = encodeFrame({ step: 3 }, { x: someTensor });
//   const { head, tensors } = decodeFrame(bytes); // tensors.x: { dtype, shape, data }
import {
  type Backend,
  type Context,
  type DType,
  GanglionError,
  type Message,
  type Tensor,
  type TensorData,
  tensor,
} from '@ganglion/core';

/** A tensor as plain values, on no backend. */
export interface WireTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export interface Frame {
  readonly head: Record<string, unknown>;
  readonly tensors: Record<string, WireTensor>;
}

const ARRAYS = {
  f64: Float64Array,
  f32: Float32Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const;
type ArrayKind = keyof typeof ARRAYS;

function arrayKind(data: TensorData): ArrayKind {
  if (data instanceof Float64Array) return 'f64';
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  return 'u8';
}

/** A tensor's values and spec (reads it back from its backend). */
function wireTensor(t: Tensor): WireTensor {
  const shape = t.shape.map((d) => {
    if (typeof d !== 'number') throw new GanglionError(`wire: tensor of symbolic shape [${t.shape.join(', ')}]`);
    return d;
  });
  return { dtype: t.dtype, shape, data: t.dataSync() };
}

/** A wire tensor on a backend. */
export function toTensor(w: WireTensor, backend: Backend): Tensor {
  return tensor(w.data, [...w.shape], w.dtype, backend);
}

export function encodeFrame(
  head: Record<string, unknown>,
  tensors: Record<string, Tensor | WireTensor> = {},
): Uint8Array {
  const specs: Record<string, { dtype: DType; shape: readonly number[]; kind: ArrayKind; offset: number }> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const w = 'dataSync' in t ? wireTensor(t) : t;
    const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    specs[name] = { dtype: w.dtype, shape: w.shape, kind: arrayKind(w.data), offset };
    parts.push(bytes);
    offset += align8(bytes.byteLength);
  }
  const json = new TextEncoder().encode(JSON.stringify({ head, tensors: specs }));
  const start = align8(4 + json.byteLength);
  const out = new Uint8Array(start + offset);
  new DataView(out.buffer).setUint32(0, json.byteLength, true);
  out.set(json, 4);
  let at = start;
  for (const p of parts) {
    out.set(p, at);
    at += align8(p.byteLength);
  }
  return out;
}

export function decodeFrame(bytes: Uint8Array): Frame {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  const { head, tensors: specs } = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as {
    head: Record<string, unknown>;
    tensors: Record<string, { dtype: DType; shape: number[]; kind: ArrayKind; offset: number }>;
  };
  const start = align8(4 + length);
  const tensors: Record<string, WireTensor> = {};
  for (const [name, s] of Object.entries(specs)) {
    const Ctor = ARRAYS[s.kind];
    const count = s.shape.reduce((a, b) => a * b, 1);
    const from = start + s.offset;
    // A copy into an aligned buffer: the frame's own offset need not be a multiple of 8.
    // (Uint8Array's slice copies; a Buffer's would not.)
    const data = new Ctor(Uint8Array.prototype.slice.call(bytes, from, from + count * Ctor.BYTES_PER_ELEMENT).buffer);
    tensors[name] = { dtype: s.dtype, shape: s.shape, data };
  }
  return { head, tensors };
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** A runtime message as a frame: its fields in the head, its tensors by name. */
export function messageFrame(m: Message, stage: number): Uint8Array {
  switch (m.kind) {
    case 'activation': {
      const { mask, ...context } = m.context;
      const state = Object.fromEntries(Object.entries(m.state ?? {}).map(([k, v]) => [`state.${k}`, v]));
      return encodeFrame(
        { kind: m.kind, step: m.step, from: m.from, context, state: Object.keys(m.state ?? {}), stage },
        { value: m.value, ...(mask ? { mask } : {}), ...state },
      );
    }
    case 'gradient':
      return encodeFrame({ kind: m.kind, step: m.step, to: m.to, from: m.from, stage }, { grad: m.grad });
    case 'param-grad':
      return encodeFrame({ kind: m.kind, step: m.step, node: m.node, param: m.param, stage }, { grad: m.grad });
    default:
      return encodeFrame({ kind: m.kind, step: m.step, stage });
  }
}

/** The message a frame carries, its tensors made on `backend` (the caller disposes them). */
export function frameMessage({ head, tensors }: Frame, backend: Backend): Message {
  const t = (name: string) => toTensor(tensors[name], backend);
  const h = head as Record<string, never>;
  switch (head.kind) {
    case 'activation': {
      const names = h.state as string[];
      const context: Context = { ...(h.context as Context), ...(tensors.mask ? { mask: t('mask') } : {}) };
      return {
        kind: 'activation',
        step: h.step,
        from: h.from,
        value: t('value'),
        context,
        ...(names.length ? { state: Object.fromEntries(names.map((k) => [k, t(`state.${k}`)])) } : {}),
      };
    }
    case 'gradient':
      return { kind: 'gradient', step: h.step, to: h.to, from: h.from, grad: t('grad') };
    case 'param-grad':
      return { kind: 'param-grad', step: h.step, node: h.node, param: h.param, grad: t('grad') };
    default:
      return { kind: head.kind as 'reset-state' | 'end-of-stream', step: h.step };
  }
}

/** Every tensor a message holds (to dispose it). */
export function messageTensors(m: Message): Tensor[] {
  switch (m.kind) {
    case 'activation':
      return [m.value, ...(m.context.mask ? [m.context.mask] : []), ...Object.values(m.state ?? {})];
    case 'gradient':
    case 'param-grad':
      return [m.grad];
    default:
      return [];
  }
}
