// Rewrites of the gradient sums an unrolled recurrence leaves in a traced training step. The tape
// accumulates the gradient of a tensor used many times as a chain of Adds; two kinds of chain are
// slow in onnxruntime and have a one-op form:
//   - Pads of disjoint slices (Slice's VJP): the time-step slices of the LSTM's input projection
//     give T zero-padded copies of [batch, T, 4H] summed one by one (O(T²) memory traffic); the
//     gate slices give four padded [batch, 4H] per step. They become one Concat of the unpadded
//     pieces (zeros where no piece lands). Exact: each element is one piece's value plus zeros.
//   - MatMul(Transpose(aᵢ), bᵢ) over 2-D aᵢ, bᵢ (the recurrent weight's gradient, hₜ₋₁ᵀ·dzₜ per
//     step): T small products summed become one Gemm(Concat(aᵢ), Concat(bᵢ), transA) with the
//     long inner dim. The same sum in another order: equal up to float rounding.
// And one pattern that is not a chain: the gradient of a 2-D weight applied to a batched input
// (x [batch, time, K] @ W) is MatMul(xᵀ per batch, g) -> [batch, K, N], then ReduceSum over batch:
// a [batch, K, N] temporary and batch small products. It becomes one Gemm over the flattened rows.
// The rewrite works on the ModelProto's graph with the shapes the tracer recorded, replaces each
// chain's last Add by the new nodes (same output name) and prunes what nothing needs any more.
// NOTE: core's tape joins the gradients of one-axis slices with a Concat itself, and MatMul's VJP
// takes a matrix weight's gradient over the flattened rows, so a traced LSTM step has no Pad chain
// or batched product; those two rewrites only fire on graphs that do have them.
import type onnxProto from 'onnx-proto';
import type { INodeProto, ITensorProto } from '../proto.js';
import { neededValues } from '../onnx-graph.js';
import { ElemType, attributeProto, tensorProto, tensorValues } from '../proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

export interface RewriteStats {
  /** Chains of Pads rewritten into a Concat, and the Pads they held. */
  readonly padSums: number;
  readonly padLeaves: number;
  /** Chains of MatMul(Transpose(a), b) rewritten into one Gemm, and the products they held. */
  readonly matMulSums: number;
  readonly matMulLeaves: number;
  /** ReduceSum(batched MatMul(aᵀ, g)) over the batch rewritten into one Gemm. */
  readonly batchedProducts: number;
}

type ShapeOf = (value: string) => readonly number[] | undefined;

interface PadLeaf {
  readonly kind: 'pad';
  /** The leaf's own value (the padded tensor). */
  readonly value: string;
  readonly key: string;
  readonly axis: number;
  readonly begin: number;
  readonly size: number;
  /** The unpadded piece. */
  readonly piece: string;
  readonly pieceShape: readonly number[];
  readonly outShape: readonly number[];
}

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

type Leaf = PadLeaf | MatMulLeaf | OtherLeaf;

/** Rewrite the gradient sums of `graph` in place. */
export function rewriteGradientSums(graph: IGraphProto, shapeOf: ShapeOf): RewriteStats {
  const nodes = graph.node ?? [];
  const producer = new Map<string, INodeProto>();
  const consumers = new Map<string, INodeProto[]>();
  const names = new Set<string>();
  for (const n of nodes) {
    names.add(n.name ?? '');
    for (const o of n.output ?? []) {
      producer.set(o, n);
      names.add(o);
    }
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  for (const t of initializers.keys()) names.add(t);
  for (const i of graph.input ?? []) names.add(i.name!);
  const uses = (v: string) => (consumers.get(v)?.length ?? 0) + (outputs.has(v) ? 1 : 0);
  let counter = 0;
  const fresh = (base: string): string => {
    let name: string;
    do name = `gradsum/${base}_${counter++}`;
    while (names.has(name));
    names.add(name);
    return name;
  };
  const constantValues = (name: string | undefined): { values: ArrayLike<number>; elemType: number } | undefined => {
    const t = name ? initializers.get(name) : undefined;
    if (!t) return undefined;
    const v = tensorValues(t);
    return { values: v.values, elemType: v.elemType };
  };

  const isChainAdd = (v: string) => producer.get(v)?.opType === 'Add' && uses(v) === 1 && !outputs.has(v);
  const classify = (v: string): Leaf => {
    const p = producer.get(v);
    if (!p || uses(v) !== 1) return { kind: 'other', value: v };
    if (p.opType === 'Pad') return padLeaf(p, v) ?? { kind: 'other', value: v };
    if (p.opType === 'MatMul') return matMulLeaf(p, v) ?? { kind: 'other', value: v };
    return { kind: 'other', value: v };
  };
  const padLeaf = (p: INodeProto, v: string): PadLeaf | undefined => {
    const [x, padsName, valueName, axesName] = p.input ?? [];
    const mode = p.attribute?.find((a) => a.name === 'mode');
    if (axesName || (mode && new TextDecoder().decode(mode.s ?? new Uint8Array()) !== 'constant')) return undefined;
    const pads = constantValues(padsName);
    const value = constantValues(valueName);
    if (!pads || !value || value.elemType !== ElemType.FLOAT || value.values[0] !== 0) return undefined;
    const pieceShape = shapeOf(x);
    const outShape = shapeOf(v);
    if (!pieceShape || !outShape || pieceShape.length !== outShape.length) return undefined;
    const rank = pieceShape.length;
    const padded = Array.from({ length: rank }, (_, a) => a).filter((a) => pads.values[a] !== 0 || pads.values[a + rank] !== 0);
    if (padded.length !== 1) return undefined;
    const axis = padded[0];
    const rest = pieceShape.map((d, a) => (a === axis ? '*' : d)).join(',');
    return { kind: 'pad', value: v, key: `${axis}|${outShape.join(',')}|${rest}`, axis, begin: Number(pads.values[axis]), size: pieceShape[axis], piece: x, pieceShape, outShape };
  };
  const matMulLeaf = (p: INodeProto, v: string): MatMulLeaf | undefined => {
    const [at, b] = p.input ?? [];
    const t = producer.get(at);
    if (!t || t.opType !== 'Transpose') return undefined;
    const perm = t.attribute?.find((x) => x.name === 'perm')?.ints?.map(Number);
    const a = t.input?.[0];
    const sa = a ? shapeOf(a) : undefined;
    const sb = shapeOf(b);
    if (!a || !sa || !sb || sa.length !== 2 || sb.length !== 2 || perm?.join(',') !== '1,0' || sa[0] !== sb[0]) return undefined;
    return { kind: 'matmul', value: v, key: `${sa[1]}|${sb[1]}`, a, b };
  };

  const replacements = new Map<INodeProto, INodeProto[]>();
  const stats = { padSums: 0, padLeaves: 0, matMulSums: 0, matMulLeaves: 0, batchedProducts: 0 };
  const node = (emitted: INodeProto[], opType: string, inputs: string[], attrs: Record<string, unknown> = {}, output = fresh(opType)): string => {
    emitted.push({ name: output, opType, input: inputs, output: [output], attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v as never)) });
    return output;
  };
  const int64 = (values: readonly number[]): string => {
    const name = fresh('const');
    graph.initializer!.push(tensorProto(name, values, ElemType.INT64, [values.length]));
    return name;
  };

  /**
   * ReduceSum(MatMul(Transpose(a, swap the last two), g), every leading axis) with a [..., M, K]
   * and g [..., M, N]: Gemm(a as [-1, K], g as [-1, N], transA), reshaped to the ReduceSum's shape.
   */
  const batchedProduct = (reduce: INodeProto): INodeProto[] | undefined => {
    const [m, axesName] = reduce.input ?? [];
    const mm = producer.get(m);
    if (!mm || mm.opType !== 'MatMul' || uses(m) !== 1) return undefined;
    const t = producer.get(mm.input![0]);
    const a = t?.opType === 'Transpose' ? t.input![0] : undefined;
    const g = mm.input![1];
    const sa = a ? shapeOf(a) : undefined;
    const sg = shapeOf(g);
    const out = shapeOf(reduce.output![0]);
    if (!a || !sa || !sg || !out || sa.length < 3 || sa.length !== sg.length) return undefined;
    const rank = sa.length;
    const perm = t!.attribute?.find((x) => x.name === 'perm')?.ints?.map(Number);
    const swapped = Array.from({ length: rank }, (_, i) => (i < rank - 2 ? i : 2 * rank - 3 - i));
    if (perm?.join(',') !== swapped.join(',')) return undefined;
    if (sa.slice(0, rank - 1).join(',') !== sg.slice(0, rank - 1).join(',')) return undefined;
    const axes = constantValues(axesName);
    const leading = Array.from({ length: rank - 2 }, (_, i) => i);
    if (!axes || Array.from(axes.values, Number).sort((x, y) => x - y).join(',') !== leading.join(',')) return undefined;
    const [K, N] = [sa[rank - 1], sg[rank - 1]];
    const emitted: INodeProto[] = [];
    const a2 = node(emitted, 'Reshape', [a, int64([-1, K])]);
    const g2 = node(emitted, 'Reshape', [g, int64([-1, N])]);
    const prod = node(emitted, 'Gemm', [a2, g2], { transA: { type: 'int', value: 1 } });
    node(emitted, 'Reshape', [prod, int64(out)], {}, reduce.output![0]);
    emitted[emitted.length - 1].name = reduce.name;
    return emitted;
  };

  for (const root of nodes) {
    if (root.opType === 'ReduceSum') {
      const emitted = batchedProduct(root);
      if (emitted) {
        replacements.set(root, emitted);
        stats.batchedProducts++;
      }
      continue;
    }
    if (root.opType !== 'Add') continue;
    const out = root.output![0];
    if (isChainAdd(out) && consumers.get(out)?.[0]?.opType === 'Add') continue; // not the chain's last Add
    const leaves: Leaf[] = [];
    const collect = (v: string) => {
      if (isChainAdd(v)) for (const i of producer.get(v)!.input!) collect(i);
      else leaves.push(classify(v));
    };
    for (const i of root.input!) collect(i);
    const groups = new Map<string, (PadLeaf | MatMulLeaf)[]>();
    for (const l of leaves) {
      if (l.kind === 'other') continue;
      const key = `${l.kind}|${l.key}`;
      groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    const emitted: INodeProto[] = [];
    const terms: string[] = [];
    const emit = (opType: string, inputs: string[], attrs: Record<string, unknown> = {}, output?: string) => node(emitted, opType, inputs, attrs, output);
    for (const group of groups.values()) {
      const first = group[0];
      if (group.length < 2) {
        terms.push(first.value);
        continue;
      }
      if (first.kind === 'pad') {
        // ConstantOfShape's default value is a float32 zero.
        const pieces = concatPieces(group as PadLeaf[], (shape) => emit('ConstantOfShape', [int64(shape)]));
        if (!pieces) {
          for (const l of group) terms.push(l.value);
          continue;
        }
        terms.push(emit('Concat', pieces, { axis: { type: 'int', value: first.axis } }));
        stats.padSums++;
        stats.padLeaves += group.length;
      } else {
        const ms = group as MatMulLeaf[];
        const a = emit('Concat', ms.map((m) => m.a), { axis: { type: 'int', value: 0 } });
        const b = emit('Concat', ms.map((m) => m.b), { axis: { type: 'int', value: 0 } });
        terms.push(emit('Gemm', [a, b], { transA: { type: 'int', value: 1 } }));
        stats.matMulSums++;
        stats.matMulLeaves += ms.length;
      }
    }
    if (emitted.length === 0) continue; // nothing to rewrite in this chain
    for (const l of leaves) if (l.kind === 'other') terms.push(l.value);
    let acc = terms[0];
    for (let i = 1; i < terms.length; i++) acc = emit('Add', [acc, terms[i]], {}, i === terms.length - 1 ? out : undefined);
    if (terms.length === 1) emit('Identity', [acc], {}, out);
    // The new last node takes the root's name, so the graph keeps its naming.
    emitted[emitted.length - 1].name = root.name;
    replacements.set(root, emitted);
  }
  if (replacements.size === 0) return stats;
  graph.node = nodes.flatMap((n) => replacements.get(n) ?? [n]);
  prune(graph);
  return stats;
}

/**
 * The pieces of a Concat equal to the sum of the padded leaves, in order along the axis, with
 * zeros (made by `zeros(shape)`) in the gaps; undefined when two leaves overlap.
 */
function concatPieces(leaves: readonly PadLeaf[], zeros: (shape: number[]) => string): string[] | undefined {
  const sorted = [...leaves].sort((a, b) => a.begin - b.begin);
  const { axis, outShape, pieceShape } = sorted[0];
  const total = outShape[axis];
  for (let i = 1; i < sorted.length; i++) if (sorted[i].begin < sorted[i - 1].begin + sorted[i - 1].size) return undefined;
  const last = sorted[sorted.length - 1];
  if (last.begin + last.size > total) return undefined;
  const pieces: string[] = [];
  let at = 0;
  const gap = (size: number) => pieces.push(zeros(pieceShape.map((d, a) => (a === axis ? size : d))));
  for (const l of sorted) {
    if (l.begin > at) gap(l.begin - at);
    pieces.push(l.piece);
    at = l.begin + l.size;
  }
  if (at < total) gap(total - at);
  return pieces;
}

/** Drop nodes no graph output needs, and initializers nothing reads. */
function prune(graph: IGraphProto): void {
  const { values, nodes } = neededValues(graph.node ?? [], (graph.output ?? []).map((o) => o.name!));
  graph.node = (graph.node ?? []).filter((n) => nodes.has(n));
  graph.initializer = (graph.initializer ?? []).filter((t: ITensorProto) => values.has(t.name!));
}
