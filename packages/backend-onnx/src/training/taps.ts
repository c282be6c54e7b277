// Message taps: `Runtime.watch` in compiled mode. While a training step is traced, the trace's
// runtime emits the same messages an eager step does (with trace values); the ones a watch wants
// become extra outputs of the graph (`tapMessages`). After each run, `publishTaps` turns those
// outputs back into typed Activation / Gradient / ParamGrad messages on the user's runtime, so
// hooks see compiled training at full speed.
//
//   const taps = tapMessages(traceRuntime, tb, runtime.watches);   // while tracing
//   publishTaps(runtime, taps, outputs, step);                       // after session.run
import {
  type Backend,
  type Message,
  type MessageFilter,
  type Runtime,
  type Tensor,
  type TensorSpec,
  dispose,
  matchesFilter,
  tensor,
} from '@ganglion/core';
import type { TraceBackend } from '../trace-backend.js';
import type * as ort from 'onnxruntime-common';

/** A message the graph outputs: its template (everything but the tensor and step) and the output holding its tensor. */
export interface Tap {
  readonly output: string;
  readonly spec: TensorSpec;
  readonly message: TapTemplate;
}

type TapTemplate =
  | { readonly kind: 'activation'; readonly from: { node: string; port: string } }
  | {
      readonly kind: 'gradient';
      readonly to: { node: string; port: string };
      readonly from: { node: string; port: string };
    }
  | { readonly kind: 'param-grad'; readonly node: string; readonly param: string };

/** The filters of a set of watches as a cache key (sessions are cached per tap set). */
export function tapsKey(filters: readonly MessageFilter[]): string {
  return filters.length === 0
    ? ''
    : JSON.stringify(
        filters.map(({ every: _every, ...f }) => f).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
      );
}

/**
 * Subscribe to a tracing runtime's messages and make every message one of `filters` wants an output
 * of the trace (`taps/<n>`). Call before the traced step runs; `stop()` after it.
 */
export function tapMessages(
  runtime: Runtime,
  tb: TraceBackend,
  filters: readonly MessageFilter[],
): { readonly taps: Tap[]; stop(): void } {
  const taps: Tap[] = [];
  const subscription = runtime.messages$.subscribe((m) => {
    if (!filters.some((f) => matchesFilter(f, m))) return;
    const t = tensorOf(m);
    if (!t) return;
    const output = `taps/${taps.length}`;
    tb.output(output, t);
    taps.push({ output, spec: { shape: t.shape, dtype: t.dtype }, message: templateOf(m) });
  });
  return { taps, stop: () => subscription.unsubscribe() };
}

/**
 * Publish the tapped messages of one compiled step on `target` (its `messages$` and watches), as
 * tensors on `backend`; they are disposed once every subscriber has seen them.
 */
export function publishTaps(
  target: Runtime,
  taps: readonly Tap[],
  outputs: Readonly<Record<string, ort.Tensor>>,
  step: number,
  backend: Backend,
): void {
  const context = { step, training: true, position: 0, seed: 0, correlationId: `step-${step}` };
  for (const tap of taps) {
    const o = outputs[tap.output];
    const t = tensor(o.data as Float32Array | Int32Array, o.dims.map(Number), tap.spec.dtype, backend);
    const m = tap.message;
    const message: Message =
      m.kind === 'activation'
        ? { ...m, step, value: t, context }
        : m.kind === 'gradient'
          ? { ...m, step, grad: t }
          : { ...m, step, grad: t };
    try {
      target.publish(message);
    } finally {
      dispose(t);
    }
  }
}

function tensorOf(m: Message): Tensor | undefined {
  return m.kind === 'activation' ? m.value : m.kind === 'gradient' || m.kind === 'param-grad' ? m.grad : undefined;
}

function templateOf(m: Message): TapTemplate {
  if (m.kind === 'activation') return { kind: 'activation', from: { ...m.from } };
  if (m.kind === 'gradient') return { kind: 'gradient', to: { ...m.to }, from: { ...m.from } };
  if (m.kind === 'param-grad') return { kind: 'param-grad', node: m.node, param: m.param };
  throw new Error(`unreachable: control messages carry no tensor (${m.kind})`);
}
