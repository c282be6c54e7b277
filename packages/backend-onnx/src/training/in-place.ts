// Which graph outputs onnxruntime may write straight into the buffer of a graph input (an update
// in place: new weights into the old weights' buffer, new slots into the old slots'). onnxruntime
// runs a session's nodes one after another in a topological order and writes a preallocated
// output only from the node that produces it, so an output O may share the buffer of an input I
// when every node that reads I runs before O's producer: every reader of I is an ancestor of that
// producer, or is the producer itself and reads I element for element at the index it writes
// (an elementwise op whose output has I's shape).
//
// Also here: `writeOutputsDirectly`, which lets the node that computes a graph output write it
// (into the caller's preallocated buffer) instead of an Identity copying it there at the end.
//
//   writeOutputsDirectly(modelProto.graph);
//   const safe = inPlaceOutputs(modelProto.graph, [['params/w', 'new_params/w'], ...]);
import type onnxProto from 'onnx-proto';

type IGraphProto = onnxProto.onnx.IGraphProto;

/** Ops that read each input element at the index they write (for inputs of the output's shape). */
const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
  'Sqrt',
  'Abs',
  'Max',
  'Min',
  'Where',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Exp',
  'Log',
]);

/**
 * The pairs `[input, output]` whose output may be written into the input's buffer. A pair whose
 * output is not produced by a node (an input passed through) or whose input is read after the
 * output is written is left out.
 */
export function inPlaceOutputs(graph: IGraphProto, pairs: readonly (readonly [string, string])[]): Set<string> {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  const readers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producer.set(o, i);
    for (const v of n.input ?? []) if (v) readers.set(v, [...(readers.get(v) ?? []), i]);
  });
  const ancestorsOf = (start: number): Set<number> => {
    const seen = new Set<number>();
    const stack = [start];
    while (stack.length) {
      const i = stack.pop()!;
      for (const v of nodes[i].input ?? []) {
        const p = producer.get(v);
        if (p !== undefined && !seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return seen;
  };
  const safe = new Set<string>();
  for (const [input, output] of pairs) {
    const p = producer.get(output);
    if (p === undefined) continue;
    const before = ancestorsOf(p);
    const own = nodes[p];
    const ok = (readers.get(input) ?? []).every(
      (r) => before.has(r) || (r === p && ELEMENTWISE.has(own.opType ?? '') && !broadcasts(graph, input, output)),
    );
    if (ok) safe.add(output);
  }
  return safe;
}

/**
 * Whether the producer might read `input` at other indices than it writes: only when the input's
 * shape is unknown or differs from the output's (a broadcast).
 */
function broadcasts(graph: IGraphProto, input: string, output: string): boolean {
  const shapeOf = (name: string) => {
    const v = [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])].find(
      (x) => x.name === name,
    );
    return v?.type?.tensorType?.shape?.dim?.map((d) => (d.dimValue == null ? d.dimParam : Number(d.dimValue)));
  };
  const a = shapeOf(input);
  const b = shapeOf(output);
  return !a || !b || a.length !== b.length || a.some((d, i) => typeof d !== 'number' || d !== b[i]);
}

/**
 * Remove the Identity between a graph output and the value it copies (the tracer adds one per
 * output): the value is renamed to the output, so its producer writes it where the caller wants
 * it and its other readers read it from there. Without this, a gradients graph holds every
 * gradient twice (its value in onnxruntime's arena until the Identity copies it out). Values that
 * are graph inputs or other outputs keep their Identity. Returns how many were removed.
 */
export function writeOutputsDirectly(graph: IGraphProto): number {
  const nodes = graph.node ?? [];
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const produced = new Set(nodes.flatMap((n) => n.output ?? []));
  const renamed = new Map<string, string>();
  const dropped = new Set<onnxProto.onnx.INodeProto>();
  for (const n of nodes) {
    if (n.opType !== 'Identity' || !n.output?.[0] || !n.input?.[0]) continue;
    const [from, to] = [n.input[0], n.output[0]];
    if (!outputs.has(to) || outputs.has(from) || !produced.has(from) || renamed.has(from)) continue;
    renamed.set(from, to);
    dropped.add(n);
  }
  if (renamed.size === 0) return 0;
  graph.node = nodes.filter((n) => !dropped.has(n));
  for (const n of graph.node) {
    n.input = (n.input ?? []).map((v) => renamed.get(v) ?? v);
    n.output = (n.output ?? []).map((v) => renamed.get(v) ?? v);
  }
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !renamed.has(v.name ?? ''));
  return renamed.size;
}
