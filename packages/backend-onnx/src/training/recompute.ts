// Recomputing cheap activations in the backward instead of keeping them. A traced training graph
// keeps every forward value its backward reads alive from the forward to the backward: for a GELU
// that is its input and two elementwise intermediates, three tensors of [tokens, 4·dim]. When such
// a value is one elementwise op away from values the backward keeps anyway (or from constants), a
// copy of that op placed in the backward computes it again, and the forward's value dies as soon
// as the forward is done with it. Costs one elementwise pass per recomputed value, so only values
// of at least RECOMPUTE_MIN_ELEMENTS are recomputed (not, say, the per-step gates of an unrolled
// LSTM, where the extra nodes would cost more than the memory saved).
//
//   recomputeCheapActivations(modelProto.graph, (node) => node.name.startsWith('backward/'), (v) => shapes.get(v));
import type onnxProto from 'onnx-proto';

type IGraphProto = onnxProto.onnx.IGraphProto;
type INodeProto = onnxProto.onnx.INodeProto;

/** Elementwise ops cheap enough to run twice. */
const CHEAP = new Set(['Add', 'Sub', 'Mul', 'Div', 'Neg', 'Sqrt', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Abs']);

export const RECOMPUTE_MIN_ELEMENTS = 1 << 16;

/** Longest chain of cheap ops recomputed for one kept value. */
const MAX_CHAIN = 3;

/**
 * Give the backward its own copy of each large cheap forward value it reads, when that value can
 * be computed again (through at most MAX_CHAIN cheap ops) from constants, graph inputs, values the
 * backward reads anyway, or one value promoted to be kept because two or more kept values are a
 * cheap op of it and constants (a GELU's input, instead of x/√2 and x/2). Returns how many copies
 * were made.
 */
export function recomputeCheapActivations(
  graph: IGraphProto,
  isBackward: (node: INodeProto) => boolean,
  shapeOf: (value: string) => readonly number[] | undefined,
): number {
  const large = (v: string) => (shapeOf(v)?.reduce((a, b) => a * b, 1) ?? 0) >= RECOMPUTE_MIN_ELEMENTS;
  const nodes = graph.node ?? [];
  const constants = new Set<string>([
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.input ?? []).map((v) => v.name ?? ''),
  ]);
  for (const n of nodes) if (n.opType === 'Constant') for (const o of n.output ?? []) constants.add(o);
  const producer = new Map<string, INodeProto>();
  for (const n of nodes) if (!isBackward(n)) for (const o of n.output ?? []) producer.set(o, n);
  const kept = new Set<string>();
  for (const n of nodes) if (isBackward(n)) for (const v of n.input ?? []) kept.add(v);
  const cheap = (n: INodeProto | undefined): n is INodeProto =>
    !!n && CHEAP.has(n.opType ?? '') && n.output?.length === 1;
  // Promote: a value from which two or more kept values are one cheap op (with constants) away.
  const fromOne = new Map<string, number>();
  for (const v of kept) {
    const n = producer.get(v);
    const vars = cheap(n) ? (n.input ?? []).filter((i) => !constants.has(i)) : [];
    if (vars.length === 1 && !kept.has(vars[0]) && large(v)) fromOne.set(vars[0], (fromOne.get(vars[0]) ?? 0) + 1);
  }
  for (const [v, count] of fromOne) if (count >= 2) kept.add(v);
  const recomputed = new Map<string, string>();
  /** Each copy, and the index of the node it goes before: the first reader of it or of a copy reading it. */
  const copies: { node: INodeProto; at: number; reads: string[] }[] = [];
  const copyOf = new Map<string, (typeof copies)[number]>();
  const moveBefore = (value: string, at: number): void => {
    const c = copyOf.get(value);
    if (!c || c.at <= at) return;
    c.at = at;
    for (const r of c.reads) moveBefore(r, at);
  };
  /** Whether `v` is available in the backward, making copies along the way when `make`. */
  const available = (v: string, depth: number, make: boolean): boolean => {
    if (constants.has(v) || recomputed.has(v) || kept.has(v)) return true;
    const n = producer.get(v);
    if (depth === 0 || !cheap(n) || !large(v) || !(n.input ?? []).every((i) => available(i, depth - 1, false)))
      return false;
    if (make) {
      for (const i of n.input ?? []) available(i, depth - 1, true);
      const name = `${v}/recomputed`;
      const reads = (n.input ?? []).filter((i) => recomputed.has(i)).map((i) => recomputed.get(i)!);
      const copy = {
        node: {
          ...n,
          name: `backward/recompute/${n.name}`,
          input: (n.input ?? []).map((i) => recomputed.get(i) ?? i),
          output: [name],
        },
        at: nodes.length,
        reads,
      };
      recomputed.set(v, name);
      copyOf.set(name, copy);
      copies.push(copy);
    }
    return true;
  };
  /** A kept value to recompute: large, cheap, and not one promoted to be kept. */
  const isRecomputable = (v: string): boolean => cheap(producer.get(v)) && large(v) && (fromOne.get(v) ?? 0) < 2;
  for (const n of nodes) {
    const v = n.output?.[0];
    if (isBackward(n) || !v || !kept.has(v) || !isRecomputable(v) || recomputed.has(v)) continue;
    if (!(n.input ?? []).every((i) => available(i, MAX_CHAIN - 1, false))) continue;
    kept.delete(v);
    available(v, MAX_CHAIN, true);
  }
  if (copies.length === 0) return 0;
  // Backward readers read the copies; each copy goes before its first reader.
  nodes.forEach((m, at) => {
    if (!isBackward(m)) return;
    m.input = (m.input ?? []).map((i) => {
      const name = recomputed.get(i);
      if (name) moveBefore(name, at);
      return name ?? i;
    });
  });
  const before = new Map<number, INodeProto[]>();
  for (const c of copies) if (c.at < nodes.length) before.set(c.at, [...(before.get(c.at) ?? []), c.node]);
  graph.node = nodes.flatMap((n, i) => [...(before.get(i) ?? []), n]);
  return before.size === 0 ? 0 : copies.filter((c) => c.at < nodes.length).length;
}
