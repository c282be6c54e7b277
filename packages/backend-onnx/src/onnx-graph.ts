// OnnxGraph: the ONNX graph being written. It names nodes after the Ganglion node that emits them
// (`lstm1/MatMul_3`), holds initializers (deduplicating small constants), graph inputs and
// outputs, prunes what no output needs, and serializes a ModelProto.
import { type OnnxAttribute, type Shape, ExportError } from '@ganglion/core';
import type onnxProto from 'onnx-proto';
import {
  type ElemType,
  type INodeProto,
  type ITensorProto,
  type IValueInfoProto,
  ElemType as ET,
  attributeProto,
  onnx,
  tensorProto,
} from './proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

/** The largest constant (in elements) that is deduplicated by value. */
const DEDUP_LIMIT = 64;

/**
 * The values `outputs` need among `nodes`, and the nodes that make them, following every node's
 * inputs except those of the nodes named in `opaque` (whose outputs still count as needed).
 */
function neededValues(
  nodes: readonly INodeProto[],
  outputs: readonly string[],
  opaque: ReadonlySet<string> = new Set(),
): { values: Set<string>; nodes: Set<INodeProto> } {
  const producer = new Map<string, INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const live = new Set<INodeProto>();
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (needed.has(v)) continue;
    needed.add(v);
    const n = producer.get(v);
    if (n && !live.has(n)) {
      live.add(n);
      if (!opaque.has(n.name!)) for (const i of n.input ?? []) if (i) stack.push(i);
    }
  }
  return { values: needed, nodes: live };
}

/** Drop the nodes no output of `graph` needs, and the initializers nothing reads. */
export function pruneGraph(graph: IGraphProto): void {
  const { values, nodes } = neededValues(
    graph.node ?? [],
    (graph.output ?? []).map((o) => o.name!),
  );
  graph.node = (graph.node ?? []).filter((n) => nodes.has(n));
  graph.initializer = (graph.initializer ?? []).filter((t) => values.has(t.name!));
}

/** Each value's producing node, and how often it is read (a graph output counts as one read). */
export function indexGraph(graph: IGraphProto): { producer: Map<string, INodeProto>; uses: Map<string, number> } {
  const producer = new Map<string, INodeProto>();
  const uses = new Map<string, number>();
  for (const n of graph.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of graph.output ?? []) uses.set(o.name!, (uses.get(o.name!) ?? 0) + 1);
  return { producer, uses };
}

/** Names for the values a rewrite adds to `graph`: `${prefix}/${base}_${k}`, none in use there yet. */
export function freshNames(graph: IGraphProto, prefix: string): (base: string) => string {
  const names = new Set<string>();
  for (const n of graph.node ?? []) {
    names.add(n.name ?? '');
    for (const o of n.output ?? []) names.add(o);
  }
  for (const t of graph.initializer ?? []) names.add(t.name!);
  for (const i of graph.input ?? []) names.add(i.name!);
  let counter = 0;
  return (base) => {
    let name: string;
    do name = `${prefix}/${base}_${counter++}`;
    while (names.has(name));
    names.add(name);
    return name;
  };
}

export interface ModelInfo {
  readonly opset: number;
  readonly irVersion: number;
  readonly graphName: string;
  readonly docString: string;
  readonly metadata: Readonly<Record<string, string>>;
}

function valueInfo(name: string, elemType: ElemType, shape: Shape): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class OnnxGraph {
  /** The Ganglion node whose forward is being traced ('' outside any node). */
  scope = '';
  private readonly nodes: INodeProto[] = [];
  private readonly initializers = new Map<string, ITensorProto>();
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constants = new Map<string, string>();

  /** A name not used yet, `base` itself when free, else `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Emit a node; returns the names of its outputs. */
  node(
    opType: string,
    inputs: readonly (string | undefined)[],
    attrs: Readonly<Record<string, OnnxAttribute>> = {},
    outputs = 1,
    scope = this.scope,
  ): string[] {
    const prefix = scope ? `${scope}/${opType}` : opType;
    const count = this.counters.get(prefix) ?? 0;
    this.counters.set(prefix, count + 1);
    const name = this.uniqueName(count === 0 ? prefix : `${prefix}_${count}`);
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? name : this.uniqueName(`${name}:${i}`)));
    // Trailing omitted inputs are dropped; inner ones are written as '' (ONNX's "absent").
    const ins = inputs.map((i) => i ?? '');
    while (ins.length > 0 && ins[ins.length - 1] === '') ins.pop();
    this.nodes.push({
      name,
      opType,
      input: ins,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return outs;
  }

  /** A named initializer (the name is made unique if taken). */
  initializer(name: string, values: ArrayLike<number>, elemType: ElemType, dims: readonly number[]): string {
    const unique = this.uniqueName(name);
    this.initializers.set(unique, tensorProto(unique, values, elemType, dims));
    return unique;
  }

  /** A constant initializer; small ones with equal values share one initializer. */
  constant(values: ArrayLike<number>, elemType: ElemType, dims: readonly number[]): string {
    if (values.length > DEDUP_LIMIT) return this.initializer('const', values, elemType, dims);
    const key = `${elemType}|${dims.join(',')}|${Array.from(values).join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(dims.length === 0 ? `const_${formatScalar(values[0])}` : 'const', values, elemType, dims);
      this.constants.set(key, name);
    }
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, pads, slice bounds). */
  int64(values: readonly number[]): string {
    return this.constant(values, ET.INT64, [values.length]);
  }

  addInput(name: string, elemType: ElemType, shape: Shape): string {
    if (this.used.has(name)) throw new ExportError(`input name "${name}" is used twice`);
    this.used.add(name);
    this.inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  /** Expose `value` as graph output `name` (through an Identity, so the output has its own name). */
  addOutput(name: string, value: string, elemType: ElemType, shape: Shape): void {
    if (this.used.has(name))
      throw new ExportError(`output name "${name}" is used twice (or collides with an input or node name)`);
    this.used.add(name);
    this.nodes.push({ name: `output/${name}`, opType: 'Identity', input: [value], output: [name] });
    this.outputs.push(valueInfo(name, elemType, shape));
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Names of the graph inputs in order. */
  inputNames(): string[] {
    return this.inputs.map((i) => i.name!);
  }

  /**
   * The values the outputs need, following every node's inputs except those of the nodes named in
   * `opaque` (whose outputs still count as needed).
   */
  neededValues(opaque: ReadonlySet<string> = new Set()): { values: Set<string>; nodes: Set<INodeProto> } {
    return neededValues(
      this.nodes,
      this.outputs.map((o) => o.name!),
      opaque,
    );
  }

  /** Point a node's inputs and attributes elsewhere (before pruning). */
  rewire(name: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttribute>>): void {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new ExportError(`no node "${name}" to rewire`);
    n.input = [...inputs];
    n.attribute = Object.entries(attrs).map(([k, v]) => attributeProto(k, v));
  }

  /**
   * Drop nodes and initializers no output depends on, and graph inputs nothing reads (a training
   * graph exported for its logits does not need its labels).
   */
  prune(): void {
    const { values: needed, nodes: live } = this.neededValues();
    const kept = this.nodes.filter((n) => live.has(n));
    this.nodes.length = 0;
    this.nodes.push(...kept);
    for (const k of [...this.initializers.keys()]) if (!needed.has(k)) this.initializers.delete(k);
    const inputs = this.inputs.filter((i) => needed.has(i.name!));
    this.inputs.length = 0;
    this.inputs.push(...inputs);
  }

  toModel(info: ModelInfo): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: info.irVersion,
      producerName: 'ganglion',
      producerVersion: '0.1.0',
      domain: 'ai.ganglion',
      modelVersion: 1,
      docString: info.docString,
      opsetImport: [{ domain: '', version: info.opset }],
      metadataProps: Object.entries(info.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: info.graphName,
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: this.inputs,
        output: this.outputs,
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    // protobufjs hands out a Node Buffer; give callers a plain Uint8Array view of it.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

function formatScalar(v: number): string {
  return String(v)
    .replace('-', 'm')
    .replace('.', 'p')
    .replace(/[^A-Za-z0-9]/g, '_');
}
