// Push row slices toward the inputs: a value read only by Slices along one axis is computed a slice
// at a time, from slices of its producer's inputs, so the whole value is never allocated. A
// gradients graph returns a large gradient as row blocks (row-blocks.ts); pushed back, GPT-2's tied
// table gradient, ScatterND(MatMul(Transpose(dlogits), h)) of [50257, 768], becomes one small
// product and scatter per block, and neither the product nor the scattered table exists whole.
//
// Slice(V, axis a, [b, e)) of V = ... becomes:
//   Identity(X), Reshape(X) to X's own shape   Slice(X, a, [b, e))
//   Add/Sub/Mul(X, Y) of V's shape              op(Slice(X), Slice(Y))
//   MatMul(A, B), 2-D                           MatMul(Slice(A, 0), B) for a = 0, MatMul(A, Slice(B, 1)) for a = 1
//   Transpose(X, [1, 0])                        Transpose(Slice(X, 1 − a))
//   Expand(scalar, shape)                       Expand(scalar, shape with e − b at a)
//   ScatterND(D, I, U, add), rows (a = 0)       ScatterND(Slice(D), clamp(I − b), Where(b ≤ I < e, U, 0))
// Every block is the same values as the slice of the whole (the scatter adds zeros to the rows of
// other blocks' indices).
//
//   pushRowSlices(modelProto.graph, (v) => shapes.get(v), ['grads/embed.weight@0', ...]);   // how many producers were cut
import type onnxProto from 'onnx-proto';
import { freshNames, indexGraph, pruneGraph } from '../onnx-graph.js';
import { ElemType, type INodeProto, tensorProto, tensorValues } from '../proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

interface SliceOf {
  readonly node: INodeProto;
  readonly axis: number;
  readonly begin: number;
  readonly end: number;
}

/**
 * Rewrite `graph` in place (see the file's comment), starting from the Slices that make the graph
 * outputs `blocks` (directly or through an Identity); other Slices (an LSTM's time steps, attention
 * heads) are left as they are. Returns how many producers were cut into slices.
 */
export function pushRowSlices(
  graph: IGraphProto,
  shapeOf: (value: string) => readonly number[] | undefined,
  blocks: readonly string[],
): number {
  const shapes = new Map<string, readonly number[]>();
  let producer = indexGraph(graph).producer;
  /** A value's shape: recorded by the tracer or here, or derived through Cast, Transpose, Reshape and Unsqueeze. */
  const shape = (v: string): readonly number[] | undefined => {
    const known = shapes.get(v) ?? shapeOf(v);
    if (known) return known;
    const t = initializers.get(v);
    if (t) return (t.dims ?? []).map(Number);
    const p = producer.get(v);
    const from = p?.input?.[0] ? shape(p.input[0]) : undefined;
    if (!p || !from) return undefined;
    if (p.opType === 'Cast') return from;
    const perm = p.opType === 'Transpose' ? p.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number) : undefined;
    if (perm) return perm.map((i) => from[i]);
    const target = p.opType === 'Reshape' ? constant(p.input?.[1]) : undefined;
    if (target) return target.every((d) => d > 0) ? target : undefined;
    const axes = p.opType === 'Unsqueeze' ? constant(p.input?.[1]) : undefined;
    if (!axes) return undefined;
    const rank = from.length + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    const rest = [...from];
    return Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : rest.shift()!));
  };
  const fresh = freshNames(graph, 'rows');
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const ours = new Set<INodeProto>();
  for (const name of new Set(blocks)) {
    let n = producer.get(name);
    if (n?.opType === 'Identity') n = producer.get(n.input![0]);
    if (n?.opType === 'Slice') ours.add(n);
  }
  const addConstant = (values: readonly number[], type: ElemType, dims: readonly number[]): string => {
    const name = fresh('const');
    const t = tensorProto(name, values, type, dims);
    (graph.initializer ??= []).push(t);
    initializers.set(name, t);
    return name;
  };
  const int64 = (values: readonly number[], dims: readonly number[] = [values.length]): string =>
    addConstant(values, ElemType.INT64, dims);
  const constant = (v: string | undefined): number[] | undefined => {
    const t = v ? initializers.get(v) : undefined;
    return t ? [...tensorValues(t).values].map(Number) : undefined;
  };
  const sliceOf = (n: INodeProto): SliceOf | undefined => {
    if (n.opType !== 'Slice' || !ours.has(n)) return;
    const [, starts, ends, axes, steps] = n.input ?? [];
    const [b, e, a, st] = [
      constant(starts),
      constant(ends),
      axes ? constant(axes) : [0],
      steps ? constant(steps) : [1],
    ];
    const dims = shape(n.input![0]);
    if (!b || !e || !a || !st || b.length !== 1 || a.length !== 1 || st[0] !== 1 || !dims) return;
    const axis = a[0] < 0 ? a[0] + dims.length : a[0];
    const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + dims[axis] : x, 0), dims[axis]);
    return { node: n, axis, begin: clamp(b[0]), end: clamp(e[0]) };
  };
  /** A node computing rows [begin, end) along `axis` of `v` (of shape `dims`); its output's name. */
  const emitSlice = (
    v: string,
    dims: readonly number[],
    axis: number,
    begin: number,
    end: number,
    emitted: INodeProto[],
  ): string => {
    shapes.set(v, dims);
    const out = fresh('Slice');
    const node = { name: out, opType: 'Slice', input: [v, int64([begin]), int64([end]), int64([axis])], output: [out] };
    ours.add(node);
    emitted.push(node);
    shapes.set(out, withDim(dims, axis, end - begin));
    return out;
  };

  /** The nodes computing slice `s` of `p`'s output, or undefined when no rule applies. */
  const cut = (p: INodeProto, s: SliceOf): INodeProto[] | undefined => {
    const out = s.node.output![0];
    const whole = shape(p.output![0]);
    if (!whole) return;
    const [x, y] = p.input ?? [];
    const emitted: INodeProto[] = [];
    const node = (opType: string, input: string[], attribute = p.attribute ?? []) =>
      emitted.push({ name: fresh(opType), opType, input, output: [out], attribute });
    const same = (v: string | undefined) => !!v && shape(v)?.join(',') === whole.join(',');
    switch (p.opType) {
      case 'Identity':
      case 'Reshape':
        if (!same(x)) return;
        node('Identity', [emitSlice(x, whole, s.axis, s.begin, s.end, emitted)], []);
        return emitted;
      case 'Add':
      case 'Sub':
      case 'Mul':
        if (!same(x) || !same(y)) return;
        node(p.opType, [
          emitSlice(x, whole, s.axis, s.begin, s.end, emitted),
          emitSlice(y, whole, s.axis, s.begin, s.end, emitted),
        ]);
        return emitted;
      case 'MatMul':
        if (shape(x)?.length !== 2 || shape(y)?.length !== 2) return;
        if (s.axis === 0) node('MatMul', [emitSlice(x, shape(x)!, 0, s.begin, s.end, emitted), y]);
        else node('MatMul', [x, emitSlice(y, shape(y)!, 1, s.begin, s.end, emitted)]);
        return emitted;
      case 'Transpose': {
        const perm = p.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
        if (whole.length !== 2 || perm?.join(',') !== '1,0') return;
        node('Transpose', [emitSlice(x, [whole[1], whole[0]], 1 - s.axis, s.begin, s.end, emitted)]);
        return emitted;
      }
      case 'Expand':
        if (shape(x)?.some((d) => d !== 1)) return;
        node('Expand', [x, int64(withDim(whole, s.axis, s.end - s.begin))]);
        return emitted;
      case 'ScatterND': {
        const reduction = p.attribute?.find((a) => a.name === 'reduction')?.s;
        const indices = shape(y);
        if (s.axis !== 0 || new TextDecoder().decode(reduction ?? new Uint8Array()) !== 'add') return;
        if (!indices || indices[indices.length - 1] !== 1) return;
        const u = p.input![2];
        const op = (opType: string, input: string[]) => {
          const o = fresh(opType);
          emitted.push({ name: o, opType, input, output: [o], attribute: [] });
          return o;
        };
        const [b, e] = [int64([s.begin], []), int64([s.end], [])];
        const inside = op('And', [op('GreaterOrEqual', [y, b]), op('Less', [y, e])]);
        const local = op('Min', [op('Max', [op('Sub', [y, b]), int64([0], [])]), int64([s.end - s.begin - 1], [])]);
        const zero = addConstant([0], ElemType.FLOAT, []);
        node('ScatterND', [emitSlice(x, whole, 0, s.begin, s.end, emitted), local, op('Where', [inside, u, zero])]);
        return emitted;
      }
      default:
        return;
    }
  };

  let count = 0;
  for (let pass = 0; pass < 16; pass++) {
    const readers = new Map<string, INodeProto[]>();
    for (const n of graph.node ?? [])
      for (const i of new Set(n.input ?? [])) {
        if (!i) continue;
        const rs = readers.get(i);
        if (rs) rs.push(n);
        else readers.set(i, [n]);
      }
    const replaced = new Map<INodeProto, INodeProto[]>();
    for (const [v, rs] of readers) {
      const p = producer.get(v);
      if (!p || outputs.has(v) || p.output?.length !== 1) continue;
      const slices = rs.map(sliceOf);
      if (slices.some((s) => !s || s.node.input![0] !== v || s.axis !== slices[0]!.axis)) continue;
      const cuts = slices.map((s) => cut(p, s!));
      if (cuts.some((c) => !c)) continue;
      slices.forEach((s, i) => replaced.set(s!.node, cuts[i]!));
      count++;
    }
    if (replaced.size === 0) break;
    graph.node = (graph.node ?? []).flatMap((n) => replaced.get(n) ?? [n]);
    pruneGraph(graph); // the cut producers, so their inputs' readers are the new slices
    producer = indexGraph(graph).producer;
  }
  return count;
}

function withDim(shape: readonly number[], axis: number, size: number): number[] {
  return shape.map((d, i) => (i === axis ? size : d));
}
