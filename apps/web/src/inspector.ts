// The message inspector: what the runtime's messages say about each node, step by step. It
// subscribes through `runtime.watch` (messages$ filtered, declared as data), so a compiled training
// step sees the watch and delivers the same messages from its graph's extra outputs. Parameter
// gradients become a per-node gradient norm (the L2 norm over all of the node's parameters);
// activations become mean, standard deviation and largest magnitude per output port. Values are
// read while the message's tensors are alive (during the wave), then only numbers are kept.
import type { Graph, Message, Runtime } from '@ganglion/core';

export interface ActivationStats {
  readonly mean: number;
  readonly std: number;
  readonly maxAbs: number;
}

export interface NodeStats {
  /** The step these numbers are from. */
  step: number;
  /** L2 norm over the gradients of all the node's parameters (absent for nodes without any). */
  gradNorm?: number;
  /** Per output port. */
  readonly activations: Map<string, ActivationStats>;
}

function activationStats(values: ArrayLike<number>): ActivationStats {
  let sum = 0;
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  }
  const mean = sum / Math.max(1, values.length);
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / Math.max(1, values.length)), maxAbs };
}

/** Collects per-node statistics from a runtime's messages; `onMessage` sees each message as it passes. */
export class MessageInspector {
  readonly nodes = new Map<string, NodeStats>();
  private readonly gradSquares = new Map<string, { step: number; sum: number }>();
  private readonly subscription: ReturnType<ReturnType<Runtime['watch']>['subscribe']>;

  constructor(runtime: Runtime, onMessage: (m: Message) => void = () => {}) {
    this.subscription = runtime.watch({ kind: ['activation', 'gradient', 'param-grad'] }).subscribe((m) => {
      this.record(m);
      onMessage(m);
    });
  }

  private statsOf(node: string, step: number): NodeStats {
    let s = this.nodes.get(node);
    if (!s) {
      s = { step, activations: new Map() };
      this.nodes.set(node, s);
    }
    s.step = step;
    return s;
  }

  private record(m: Message): void {
    if (m.kind === 'param-grad') {
      const values = m.grad.dataSync();
      let sq = 0;
      for (let i = 0; i < values.length; i++) sq += values[i] * values[i];
      const acc = this.gradSquares.get(m.node);
      const sum = acc && acc.step === m.step ? acc.sum + sq : sq;
      this.gradSquares.set(m.node, { step: m.step, sum });
      this.statsOf(m.node, m.step).gradNorm = Math.sqrt(sum);
    } else if (m.kind === 'activation' && m.context.training) {
      this.statsOf(m.from.node, m.step).activations.set(m.from.port, activationStats(m.value.dataSync()));
    }
  }

  /** The nodes of `graph` that have parameters, in graph order. */
  static parameterized(graph: Graph): string[] {
    return [...new Set(graph.params().map((p) => p.node))];
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

const fmt = (x: number | undefined) =>
  x === undefined ? '' : Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2);

/** The inspector as a table: node, kind, gradient norm, and each output port's activation stats. */
export function renderInspector(table: HTMLTableElement, graph: Graph, inspector: MessageInspector): void {
  const rows = graph.nodes.map((n) => {
    const s = inspector.nodes.get(n.name);
    const acts = s
      ? [...s.activations].map(([port, a]) => `${port}: μ ${fmt(a.mean)} σ ${fmt(a.std)} max ${fmt(a.maxAbs)}`)
      : [];
    const tr = document.createElement('tr');
    tr.dataset.node = n.name;
    if (s?.gradNorm !== undefined) tr.dataset.gradNorm = String(s.gradNorm);
    for (const text of [n.name, n.layer.kind, String(s?.step ?? ''), fmt(s?.gradNorm), acts.join('; ')]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  const head = document.createElement('tr');
  for (const h of ['node', 'kind', 'step', 'gradient norm', 'activations (mean, std, max |x|)']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  table.replaceChildren(head, ...rows);
}
