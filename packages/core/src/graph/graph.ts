// A built, validated graph: inputs, nodes in topological order with their resolved ports and
// parameters, and named outputs. Built by `GraphBuilder` (builder.ts) or loaded from JSON.

import type { TensorSpec } from '../backend.js';
import { GraphError } from '../errors.js';
import { type Shape, formatShape } from '../shape/dim.js';
import type { Layer, LayerClass, LayerSignature, ParamSpec, PortSpec } from './layer.js';
import { type PortRef, formatPortRef } from './messages.js';

export interface GraphInput {
  readonly name: string;
  readonly spec: TensorSpec;
}

export interface GraphNode {
  readonly name: string;
  readonly layer: Layer;
  /** Input port name -> the port feeding it (absent: unconnected optional port). */
  readonly inputs: Readonly<Record<string, PortRef | undefined>>;
  readonly inputSpecs: Readonly<Record<string, TensorSpec | undefined>>;
  readonly signature: LayerSignature;
  /** Parameters frozen on this node by `Graph.freeze` (their specs say trainable: false). */
  readonly frozen?: readonly string[];
}

/** Serialized graph (checkpoints' graph.json). */
export interface GraphJSON {
  readonly format: 'ganglion-graph';
  readonly version: 1;
  readonly inputs: readonly { name: string; shape: Shape; dtype: TensorSpec['dtype'] }[];
  readonly nodes: readonly {
    name: string;
    kind: string;
    config: unknown;
    inputs: Readonly<Record<string, string | undefined>>;
    /** Parameter names frozen by `Graph.freeze`; absent when none. */
    frozen?: readonly string[];
  }[];
  readonly outputs: Readonly<Record<string, string>>;
}

export class Graph {
  private readonly byName: Map<string, GraphNode>;
  private readonly consumerMap = new Map<string, PortRef[]>();

  constructor(
    readonly inputs: readonly GraphInput[],
    /** Topologically ordered. */
    readonly nodes: readonly GraphNode[],
    readonly outputs: Readonly<Record<string, PortRef>>,
  ) {
    this.byName = new Map(nodes.map((n) => [n.name, n]));
    for (const n of nodes) {
      for (const [port, src] of Object.entries(n.inputs)) {
        if (!src) continue;
        const key = formatPortRef(src);
        const list = this.consumerMap.get(key) ?? [];
        list.push({ node: n.name, port });
        this.consumerMap.set(key, list);
      }
    }
  }

  node(name: string): GraphNode {
    const n = this.byName.get(name);
    if (!n) throw new GraphError(`graph has no node "${name}" (nodes: ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  hasNode(name: string): boolean {
    return this.byName.has(name);
  }

  isInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  /** The spec of a port: a graph input (port 'y') or a node output. */
  spec(ref: PortRef): TensorSpec {
    const input = this.inputs.find((i) => i.name === ref.node);
    if (input) return input.spec;
    const out = this.node(ref.node).signature.outputs.find((o) => o.name === ref.port);
    if (!out) throw new GraphError(`node "${ref.node}" has no output port "${ref.port}"`);
    return out;
  }

  /** Input ports fed by a port. */
  consumers(ref: PortRef): readonly PortRef[] {
    return this.consumerMap.get(formatPortRef(ref)) ?? [];
  }

  /** Every parameter: `{ node, spec }`, in node order. */
  params(): { node: string; spec: ParamSpec }[] {
    return this.nodes.flatMap((n) => n.signature.params.map((spec) => ({ node: n.name, spec })));
  }

  paramCount(): number {
    return this.params().reduce((s, p) => s + p.spec.shape.reduce((a, b) => a * b, 1), 0);
  }

  outputSpecs(name: string): readonly PortSpec[] {
    return this.node(name).signature.outputs;
  }

  /**
   * The part of the graph that computes some of its outputs: only the nodes and inputs they need
   * (e.g. a language model's logits without the loss and its labels input, for generation).
   */
  subgraph(outputNames: readonly string[]): Graph {
    const outputs: Record<string, PortRef> = {};
    const needed = new Set<string>();
    const visit = (name: string): void => {
      if (needed.has(name)) return;
      needed.add(name);
      if (this.byName.has(name)) for (const src of Object.values(this.node(name).inputs)) if (src) visit(src.node);
    };
    for (const name of outputNames) {
      const ref = this.outputs[name];
      if (!ref)
        throw new GraphError(`graph has no output "${name}" (outputs: ${Object.keys(this.outputs).join(', ')})`);
      outputs[name] = ref;
      visit(ref.node);
    }
    return new Graph(
      this.inputs.filter((i) => needed.has(i.name)),
      this.nodes.filter((n) => needed.has(n.name)),
      outputs,
    );
  }

  /**
   * The same graph with more parameters frozen: every parameter whose key (`<node>.<param>`) the
   * predicate accepts gets `trainable: false`, so it has no gradient, no optimizer slots and no place
   * in a compiled step's gradient graph. Freezes are kept in `toJSON` (a node's `frozen` list); a
   * parameter a layer already declares frozen stays frozen.
   *
   *   const tuned = graph.freeze((key) => !key.includes('.lora_'));   // train only the LoRA weights
   */
  freeze(frozen: (key: string) => boolean): Graph {
    const nodes = this.nodes.map((n): GraphNode => {
      const names = new Set(n.frozen);
      for (const p of n.signature.params) if (p.trainable !== false && frozen(`${n.name}.${p.name}`)) names.add(p.name);
      if (names.size === (n.frozen?.length ?? 0)) return n;
      const params = n.signature.params.map((p) => (names.has(p.name) ? { ...p, trainable: false } : p));
      return { ...n, signature: { ...n.signature, params }, frozen: [...names] };
    });
    return new Graph(this.inputs, nodes, this.outputs);
  }

  toJSON(): GraphJSON {
    return {
      format: 'ganglion-graph',
      version: 1,
      inputs: this.inputs.map((i) => ({ name: i.name, shape: i.spec.shape, dtype: i.spec.dtype })),
      nodes: this.nodes.map((n) => ({
        name: n.name,
        kind: n.layer.kind,
        config: n.layer.config,
        inputs: Object.fromEntries(Object.entries(n.inputs).map(([p, r]) => [p, r ? formatPortRef(r) : undefined])),
        ...(n.frozen?.length ? { frozen: n.frozen } : {}),
      })),
      outputs: Object.fromEntries(Object.entries(this.outputs).map(([k, r]) => [k, formatPortRef(r)])),
    };
  }

  /** The graph as a Mermaid flowchart: nodes with their kind, edges labelled with shapes. */
  toMermaid(): string {
    const id = (name: string) => `n_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const lines = ['flowchart TD'];
    for (const i of this.inputs)
      lines.push(`  ${id(i.name)}[/"${i.name}: ${formatShape(i.spec.shape)} ${i.spec.dtype}"/]`);
    for (const n of this.nodes) lines.push(`  ${id(n.name)}["${n.name}<br/>${n.layer.kind}"]`);
    for (const n of this.nodes) {
      for (const [port, src] of Object.entries(n.inputs)) {
        if (!src) continue;
        const s = this.spec(src);
        const label =
          `${src.port === 'y' ? '' : `${src.port} → `}${port === 'x' ? '' : `${port} `}${formatShape(s.shape)}`.trim();
        lines.push(`  ${id(src.node)} -->|"${label}"| ${id(n.name)}`);
      }
    }
    for (const [name, ref] of Object.entries(this.outputs)) {
      lines.push(`  ${id(`out_${name}`)}[\\"${name}: ${formatShape(this.spec(ref).shape)}"\\]`);
      lines.push(`  ${id(ref.node)} --> ${id(`out_${name}`)}`);
    }
    return lines.join('\n');
  }

  /** A summary table: node, kind, output shapes, parameter count; totals at the end. */
  summary(): string {
    const rows: string[][] = [['node', 'kind', 'output shapes', 'params']];
    for (const i of this.inputs) rows.push([i.name, 'Input', `${formatShape(i.spec.shape)} ${i.spec.dtype}`, '0']);
    for (const n of this.nodes) {
      const count = n.signature.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
      const outs = n.signature.outputs
        .map((o) => (n.signature.outputs.length > 1 ? `${o.name}: ` : '') + formatShape(o.shape))
        .join(', ');
      rows.push([n.name, n.layer.kind, outs, count.toLocaleString('en-US')]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const fmt = (r: string[]) =>
      r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
    const rule = widths.map((w) => '-'.repeat(w)).join('  ');
    const total = this.paramCount();
    const trainable = this.params()
      .filter((p) => p.spec.trainable !== false)
      .reduce((s, p) => s + p.spec.shape.reduce((a, b) => a * b, 1), 0);
    return [
      fmt(rows[0]),
      rule,
      ...rows.slice(1).map(fmt),
      rule,
      `total params: ${total.toLocaleString('en-US')} (trainable: ${trainable.toLocaleString('en-US')})`,
    ].join('\n');
  }
}

/** Resolves a layer kind to its class when loading a graph (the DI layer registry implements it). */
export type LayerResolver = (kind: string) => LayerClass<object> | undefined;
