// Rewrites of a traced training step that each save a large buffer: transposes the tape writes
// around products, and the squares the gradient norm sums.
//
// A linear map x @ Wᵀ (a tied head's, with W the [vocab, dim] embedding table) traces as
// MatMul(x, Transpose(W)). Its VJPs are MatMul(dy, Transpose(Transpose(W))) for x and
// Transpose(MatMul(Transpose(x), dy)) for W: three copies of the table's size (147 MiB each at
// GPT-2's vocabulary), and the forward's Transpose, read twice, stays a copy too, where onnxruntime
// fuses a Transpose read once into the product it feeds. Here:
// - Transpose(Transpose(x, p), q) is x when the two perms undo each other (else one Transpose);
// - Transpose(MatMul(a, b)) of 2-D a, b is MatMul(bᵀ, aᵀ), where the transpose of a Transpose is
//   its input, so Wᵀ's gradient comes out as W's with no copy;
// - ReduceSum(Mul(x, x)) is ReduceSumSquare(x) (no squared copy of every gradient for the norm).
// The same values up to float rounding (the sum of squares in another order).
//
//   foldTransposes(modelProto.graph, (v) => shapes.get(v), 17);   // how many rewrites
import type onnxProto from 'onnx-proto';
import { freshNames, indexGraph, pruneGraph } from '../onnx-graph.js';
import { type INodeProto, attributeProto, tensorValues } from '../proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

const permOf = (n: INodeProto): number[] | undefined => n.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);

/** Rewrite `graph` in place (see the file's comment); returns how many rewrites. */
export function foldTransposes(
  graph: IGraphProto,
  shapeOf: (value: string) => readonly number[] | undefined,
  opset: number,
): number {
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  let { producer, uses } = indexGraph(graph);
  const fresh = freshNames(graph, 'fold');
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const isMatrix = (v: string) => shapeOf(v)?.length === 2;
  /** A node computing vᵀ of a 2-D v: its Transpose's input when v is one, else a new Transpose. */
  const transposed = (v: string, emitted: INodeProto[]): string => {
    const p = producer.get(v);
    if (p?.opType === 'Transpose' && permOf(p)?.join(',') === '1,0') return p.input![0];
    const out = fresh('Transpose');
    emitted.push({ name: out, opType: 'Transpose', input: [v], output: [out], attribute: [perm([1, 0])] });
    return out;
  };

  let count = 0;
  const renamed = new Map<string, string>();
  for (let pass = 0; pass < 4; pass++) {
    if (pass > 0) ({ producer, uses } = indexGraph(graph));
    let changed = 0;
    const next: INodeProto[] = [];
    for (const n of graph.node ?? []) {
      const out = n.output?.[0];
      const q = n.opType === 'Transpose' ? permOf(n) : undefined;
      const inner = q ? producer.get(n.input![0]) : undefined;
      const p = inner?.opType === 'Transpose' ? permOf(inner) : undefined;
      if (out && q && inner && p && p.length === q.length) {
        const composed = q.map((i) => p[i]);
        const x = inner.input![0];
        if (composed.every((v, i) => v === i) && !outputs.has(out)) {
          renamed.set(out, x); // the consumers read x; the node goes
        } else next.push({ ...n, input: [x], attribute: [perm(composed)] });
        changed++;
        continue;
      }
      if (out && q?.join(',') === '1,0' && inner?.opType === 'MatMul' && uses.get(inner.output![0]) === 1) {
        const [a, b] = inner.input!;
        if (isMatrix(a) && isMatrix(b)) {
          const emitted: INodeProto[] = [];
          const bt = transposed(b, emitted);
          const at = transposed(a, emitted);
          next.push(...emitted, { name: n.name, opType: 'MatMul', input: [bt, at], output: [out], attribute: [] });
          changed++;
          continue;
        }
      }
      if (out && n.opType === 'ReduceSum') {
        const sq = producer.get(n.input![0]);
        const axes = n.input![1] ? initializers.get(n.input![1]) : undefined;
        const noop = n.attribute?.find((a) => a.name === 'noop_with_empty_axes');
        if (
          sq?.opType === 'Mul' &&
          sq.input![0] === sq.input![1] &&
          uses.get(sq.output![0]) === 1 &&
          (axes || !n.input![1]) &&
          !(Number(noop?.i ?? 0) && !axes)
        ) {
          // From opset 18 ReduceSumSquare takes its axes as an input, as ReduceSum does from 13.
          const keepdims = n.attribute?.find((a) => a.name === 'keepdims');
          const axesAttr =
            axes && opset < 18
              ? [attributeProto('axes', { type: 'ints', value: [...tensorValues(axes).values].map(Number) })]
              : [];
          const input = axes && opset >= 18 ? [sq.input![0], n.input![1]] : [sq.input![0]];
          const attribute = [...(keepdims ? [keepdims] : []), ...axesAttr, ...(opset >= 18 && noop ? [noop] : [])];
          next.push({ name: n.name, opType: 'ReduceSumSquare', input, output: [out], attribute });
          changed++;
          continue;
        }
      }
      next.push(n);
    }
    const resolve = (v: string): string => {
      let r = v;
      while (renamed.has(r)) r = renamed.get(r)!;
      return r;
    };
    graph.node = next.map((n) => (n.input?.some((i) => renamed.has(i)) ? { ...n, input: n.input.map(resolve) } : n));
    count += changed;
    if (changed === 0) break;
  }
  if (count > 0) pruneGraph(graph);
  return count;
}

const perm = (value: number[]) => attributeProto('perm', { type: 'ints', value });
