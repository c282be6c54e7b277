// Rewrites of the gradient sums an unrolled recurrence leaves in a traced training step. The tape
// accumulates the gradient of a tensor used many times as a chain of Adds; one kind of chain is
// slow in onnxruntime and has a one-op form: MatMul(Transpose(aᵢ), bᵢ) over 2-D aᵢ, bᵢ (the
// recurrent weight's gradient, hₜ₋₁ᵀ·dzₜ per step). T small products summed become one
// Gemm(Concat(aᵢ), Concat(bᵢ), transA) with the long inner dim: the same sum in another order,
// equal up to float rounding.
// The rewrite works on the ModelProto's graph with the shapes the tracer recorded, replaces each
// chain's last Add by the new nodes (same output name) and prunes what nothing needs any more.
// A second kind: a tied weight's gradient (an Embedding's table that is also the head) is the sum of
// the Gather's VJP, ScatterND(zeros, ids, updates, reduction add), and the head's product X. The
// sum is ScatterND(X, ids, updates, reduction add): one [vocab, dim] buffer where there were three
// (the zeros, the scatter and the sum), which onnxruntime may even write in X's place.
// NOTE: the other sums a traced step holds need no rewrite: core's tape joins the gradients of
// one-axis slices with a Concat itself (no chain of Pads), and MatMul's VJP takes a matrix weight's
// gradient over the flattened rows (no batched product summed over the batch).
import type onnxProto from 'onnx-proto';
import type { INodeProto } from '../proto.js';
import { freshNames, indexGraph, pruneGraph } from '../onnx-graph.js';
import { attributeProto, tensorValues } from '../proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

export interface GradientSumStats {
  /** Chains of MatMul(Transpose(a), b) rewritten into one Gemm, and the products they held. */
  readonly matMulSums: number;
  readonly matMulLeaves: number;
  /** Sums Add(ScatterND onto zeros, X) rewritten into ScatterND onto X. */
  readonly scatterSums: number;
}

/** What the rewrites of a traced step did: the gradient sums here, fold-transposes.ts's folds and row-slices.ts's cuts. */
export interface RewriteStats extends GradientSumStats {
  /** Transposes folded away, and squares summed in one op. */
  readonly folds: number;
  /** Producers computed a row block at a time (pushRowSlices). */
  readonly rowSlices: number;
}

/** What a graph the rewrite did not run on reports. */
export const NO_REWRITES: RewriteStats = { matMulSums: 0, matMulLeaves: 0, scatterSums: 0, folds: 0, rowSlices: 0 };

type ShapeOf = (value: string) => readonly number[] | undefined;

interface MatMulLeaf {
  readonly kind: 'matmul';
  readonly value: string;
  readonly key: string;
  readonly a: string;
  readonly b: string;
}

interface OtherLeaf {
  readonly kind: 'other';
  readonly value: string;
}

type Leaf = MatMulLeaf | OtherLeaf;

/** Rewrite the gradient sums of `graph` in place. */
export function rewriteGradientSums(graph: IGraphProto, shapeOf: ShapeOf): GradientSumStats {
  const nodes = graph.node ?? [];
  const producer = new Map<string, INodeProto>();
  const consumers = new Map<string, INodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const uses = (v: string) => (consumers.get(v)?.length ?? 0) + (outputs.has(v) ? 1 : 0);
  const fresh = freshNames(graph, 'gradsum');

  const isChainAdd = (v: string) => producer.get(v)?.opType === 'Add' && uses(v) === 1 && !outputs.has(v);
  const classify = (v: string): Leaf => {
    const p = producer.get(v);
    return (p && uses(v) === 1 && p.opType === 'MatMul' && matMulLeaf(p, v)) || { kind: 'other', value: v };
  };
  const matMulLeaf = (p: INodeProto, v: string): MatMulLeaf | undefined => {
    const [at, b] = p.input ?? [];
    const t = producer.get(at);
    if (!t || t.opType !== 'Transpose') return undefined;
    const perm = t.attribute?.find((x) => x.name === 'perm')?.ints?.map(Number);
    const a = t.input?.[0];
    const sa = a ? shapeOf(a) : undefined;
    const sb = shapeOf(b);
    if (!a || !sa || !sb || sa.length !== 2 || sb.length !== 2 || perm?.join(',') !== '1,0' || sa[0] !== sb[0])
      return undefined;
    return { kind: 'matmul', value: v, key: `${sa[1]}|${sb[1]}`, a, b };
  };

  const replacements = new Map<INodeProto, INodeProto[]>();
  const stats: { -readonly [K in keyof GradientSumStats]: number } = { matMulSums: 0, matMulLeaves: 0, scatterSums: 0 };
  const node = (
    emitted: INodeProto[],
    opType: string,
    inputs: string[],
    attrs: Record<string, unknown> = {},
    output = fresh(opType),
  ): string => {
    emitted.push({
      name: output,
      opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v as never)),
    });
    return output;
  };
  for (const root of nodes) {
    if (root.opType !== 'Add') continue;
    const out = root.output![0];
    if (isChainAdd(out) && consumers.get(out)?.[0]?.opType === 'Add') continue; // not the chain's last Add
    const leaves: Leaf[] = [];
    const collect = (v: string) => {
      if (isChainAdd(v)) for (const i of producer.get(v)!.input!) collect(i);
      else leaves.push(classify(v));
    };
    for (const i of root.input!) collect(i);
    const groups = new Map<string, MatMulLeaf[]>();
    for (const l of leaves) {
      if (l.kind === 'other') continue;
      groups.set(l.key, [...(groups.get(l.key) ?? []), l]);
    }
    const emitted: INodeProto[] = [];
    const terms: string[] = [];
    const emit = (opType: string, inputs: string[], attrs: Record<string, unknown> = {}, output?: string) =>
      node(emitted, opType, inputs, attrs, output);
    for (const group of groups.values()) {
      const first = group[0];
      if (group.length < 2) {
        terms.push(first.value);
        continue;
      }
      const a = emit(
        'Concat',
        group.map((m) => m.a),
        { axis: { type: 'int', value: 0 } },
      );
      const b = emit(
        'Concat',
        group.map((m) => m.b),
        { axis: { type: 'int', value: 0 } },
      );
      terms.push(emit('Gemm', [a, b], { transA: { type: 'int', value: 1 } }));
      stats.matMulSums++;
      stats.matMulLeaves += group.length;
    }
    if (emitted.length === 0) continue; // nothing to rewrite in this chain
    for (const l of leaves) if (l.kind === 'other') terms.push(l.value);
    let acc = terms[0];
    for (let i = 1; i < terms.length; i++)
      acc = emit('Add', [acc, terms[i]], {}, i === terms.length - 1 ? out : undefined);
    if (terms.length === 1) emit('Identity', [acc], {}, out);
    // The new last node takes the root's name, so the graph keeps its naming.
    emitted[emitted.length - 1].name = root.name;
    replacements.set(root, emitted);
  }
  if (replacements.size > 0) {
    graph.node = nodes.flatMap((n) => replacements.get(n) ?? [n]);
    pruneGraph(graph);
  }
  stats.scatterSums = foldScatterSums(graph, shapeOf);
  return stats;
}

/** Rewrite Add(ScatterND(zeros, i, u, add), X) as ScatterND(X, i, u, add) where the shapes are equal; how many. */
function foldScatterSums(graph: IGraphProto, shapeOf: ShapeOf): number {
  const nodes = graph.node ?? [];
  const { producer, uses } = indexGraph(graph);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const isZero = (v: string) => {
    const t = initializers.get(v);
    if (!t) return false;
    const { values } = tensorValues(t);
    return values.length === 1 && values[0] === 0;
  };
  /** The scatter onto zeros that only `v`'s sum reads, if `v` is one. */
  const scatterOntoZeros = (v: string): INodeProto | undefined => {
    const p = producer.get(v);
    if (p?.opType !== 'ScatterND' || uses.get(v) !== 1) return undefined;
    const reduction = p.attribute?.find((a) => a.name === 'reduction')?.s;
    if (!reduction || new TextDecoder().decode(reduction) !== 'add') return undefined;
    const data = producer.get(p.input![0]);
    return data?.opType === 'Expand' && isZero(data.input![0]) ? p : undefined;
  };
  const same = (a: string, b: string) => {
    const [sa, sb] = [shapeOf(a), shapeOf(b)];
    return sa !== undefined && sb !== undefined && sa.length === sb.length && sa.every((d, i) => d === sb[i]);
  };
  let count = 0;
  graph.node = nodes.map((n) => {
    if (n.opType !== 'Add') return n;
    const [a, b] = n.input!;
    for (const [s, x] of [
      [a, b],
      [b, a],
    ]) {
      const scatter = scatterOntoZeros(s);
      if (!scatter || !same(s, x) || !same(s, n.output![0])) continue;
      count++;
      return { ...scatter, name: n.name, input: [x, scatter.input![1], scatter.input![2]], output: n.output };
    }
    return n;
  });
  if (count > 0) pruneGraph(graph);
  return count;
}
