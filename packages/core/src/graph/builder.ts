// Composing graphs in code: a functional builder (multiple inputs and outputs, branches, residual
// adds) and `sequential([...])`. `build()` validates the whole graph and resolves every port's
// shape, or throws a GraphError naming the node, the port and the shapes.

import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import { GanglionError, GraphError } from '../errors.js';
import { type Shape, formatShape } from '../shape/dim.js';
import { Graph, type GraphInput, type GraphJSON, type GraphNode, type LayerResolver } from './graph.js';
import type { Layer } from './layer.js';
import { type PortRef, formatPortRef, parsePortRef } from './messages.js';

/** A port while composing: a graph input or a node's output. Node handles default to port 'y'. */
export class Port implements PortRef {
  constructor(
    readonly node: string,
    readonly port: string = 'y',
  ) {}

  /** Another output port of the same node: `lstm.port('h')`. */
  out(port: string): Port {
    return new Port(this.node, port);
  }

  toString(): string {
    return formatPortRef(this);
  }
}

/** A port, or its name: `'lstm1'` (port y) or `'lstm1.h'`. */
export type PortLike = PortRef | string;

interface PendingNode {
  name: string;
  layer: Layer;
  inputs: (PortLike | undefined)[] | Readonly<Record<string, PortLike | undefined>>;
}

const toRef = (p: PortLike): PortRef => (typeof p === 'string' ? parsePortRef(p) : { node: p.node, port: p.port });

/**
 * Compose a graph:
 *
 *   const g = new GraphBuilder();
 *   const x = g.input('x', ['batch', 4]);
 *   const h = g.node('hidden', new Dense({ units: 8, activation: 'relu' }), x);
 *   const y = g.node('out', new Dense({ units: 2 }), h);
 *   g.output('y', y);
 *   const graph = g.build();
 */
export class GraphBuilder {
  private readonly graphInputs: GraphInput[] = [];
  private readonly pending: PendingNode[] = [];
  private readonly outs: [string, PortLike][] = [];

  input(name: string, shape: Shape, dtype: DType = 'float32'): Port {
    this.graphInputs.push({ name, spec: { shape, dtype } });
    return new Port(name);
  }

  /** Add a node; inputs are positional (in the layer's port order) or a record by port name. */
  node(name: string, layer: Layer, ...inputs: (PortLike | undefined)[]): Port;
  node(name: string, layer: Layer, inputs: Readonly<Record<string, PortLike | undefined>>): Port;
  node(name: string, layer: Layer, ...inputs: unknown[]): Port {
    const rec =
      inputs.length === 1 && inputs[0] !== null && typeof inputs[0] === 'object' && !('node' in (inputs[0] as object));
    this.pending.push({ name, layer, inputs: rec ? (inputs[0] as Record<string, PortLike>) : (inputs as PortLike[]) });
    return new Port(name);
  }

  output(name: string, port: PortLike): this {
    this.outs.push([name, port]);
    return this;
  }

  build(): Graph {
    const names = new Map<string, string>();
    for (const i of this.graphInputs) {
      if (names.has(i.name)) throw new GraphError(`duplicate name "${i.name}": two graph inputs have it`);
      names.set(i.name, 'input');
    }
    for (const n of this.pending) {
      if (names.has(n.name))
        throw new GraphError(
          `duplicate node name "${n.name}": a ${names.get(n.name)} and a ${n.layer.kind} node both have it`,
        );
      names.set(n.name, `${n.layer.kind} node`);
    }

    // Wire each node's input ports.
    const wiring = new Map<string, Record<string, PortRef | undefined>>();
    for (const n of this.pending) {
      const decl = n.layer.inputs;
      const wired: Record<string, PortRef | undefined> = {};
      if (Array.isArray(n.inputs)) {
        if (n.inputs.length > decl.length) {
          throw new GraphError(
            `${n.layer.kind} "${n.name}": got ${n.inputs.length} inputs, but it has ${decl.length} ports (${decl.map((d) => d.name).join(', ')})`,
          );
        }
        decl.forEach((d, i) => (wired[d.name] = n.inputs[i as never] ? toRef((n.inputs as PortLike[])[i]) : undefined));
      } else {
        for (const [port, src] of Object.entries(n.inputs)) {
          if (!decl.some((d) => d.name === port)) {
            throw new GraphError(
              `${n.layer.kind} "${n.name}": has no input port "${port}" (ports: ${decl.map((d) => d.name).join(', ')})`,
            );
          }
          wired[port] = src ? toRef(src) : undefined;
        }
      }
      for (const d of decl) {
        const src = wired[d.name];
        if (!src && !d.optional)
          throw new GraphError(`${n.layer.kind} "${n.name}": input "${d.name}" is not connected`);
        if (src && !names.has(src.node))
          throw new GraphError(`${n.layer.kind} "${n.name}": input "${d.name}" refers to unknown node "${src.node}"`);
        if (src && src.node === n.name) throw new GraphError(`cycle: node "${n.name}" feeds its own input "${d.name}"`);
      }
      wiring.set(n.name, wired);
    }

    const order = this.topologicalOrder(wiring);

    // Resolve shapes in topological order.
    const specs = new Map<string, TensorSpec>();
    for (const i of this.graphInputs) specs.set(formatPortRef({ node: i.name, port: 'y' }), i.spec);
    const built: GraphNode[] = [];
    for (const n of order) {
      const wired = wiring.get(n.name)!;
      const inputSpecs: Record<string, TensorSpec | undefined> = {};
      for (const [port, src] of Object.entries(wired)) {
        if (!src) continue;
        const s = specs.get(formatPortRef(src));
        if (!s) {
          const producer = built.find((b) => b.name === src.node) ?? this.pending.find((p) => p.name === src.node);
          const ports =
            producer && 'signature' in producer ? producer.signature.outputs.map((o) => o.name).join(', ') : 'y';
          throw new GraphError(
            `${n.layer.kind} "${n.name}": input "${port}" refers to "${formatPortRef(src)}", but node "${src.node}" has no output port "${src.port}" (ports: ${ports})`,
          );
        }
        inputSpecs[port] = s;
      }
      let signature;
      try {
        signature = n.layer.signature(inputSpecs);
      } catch (e) {
        if (!(e instanceof GanglionError)) throw e;
        const fed = Object.entries(wired)
          .filter(([port, src]) => src && e.message.includes(`"${port}"`))
          .map(
            ([port, src]) =>
              `"${port}" is fed by "${formatPortRef(src!)}" with shape ${formatShape(inputSpecs[port]!.shape)} ${inputSpecs[port]!.dtype}`,
          );
        throw new GraphError(`${n.layer.kind} "${n.name}": ${e.message}${fed.length ? ` (${fed.join('; ')})` : ''}`);
      }
      for (const o of signature.outputs) specs.set(formatPortRef({ node: n.name, port: o.name }), o);
      built.push({ name: n.name, layer: n.layer, inputs: wired, inputSpecs, signature });
    }

    const outputs: Record<string, PortRef> = {};
    for (const [name, p] of this.outs) {
      const ref = toRef(p);
      if (outputs[name]) throw new GraphError(`duplicate graph output name "${name}"`);
      if (!specs.has(formatPortRef(ref)))
        throw new GraphError(
          `graph output "${name}" refers to "${formatPortRef(ref)}", which is not a port of the graph`,
        );
      outputs[name] = ref;
    }
    if (Object.keys(outputs).length === 0) throw new GraphError('the graph has no outputs: call output(name, port)');
    return new Graph(this.graphInputs, built, outputs);
  }

  private topologicalOrder(wiring: Map<string, Record<string, PortRef | undefined>>): PendingNode[] {
    const state = new Map<string, 'visiting' | 'done'>();
    const order: PendingNode[] = [];
    const byName = new Map(this.pending.map((n) => [n.name, n]));
    const visit = (n: PendingNode, path: string[]): void => {
      const s = state.get(n.name);
      if (s === 'done') return;
      if (s === 'visiting') {
        const cycle = [...path.slice(path.indexOf(n.name)), n.name];
        throw new GraphError(`cycle: ${cycle.map((c) => `"${c}"`).join(' -> ')}`);
      }
      state.set(n.name, 'visiting');
      for (const src of Object.values(wiring.get(n.name)!)) {
        const dep = src && byName.get(src.node);
        if (dep) visit(dep, [...path, n.name]);
      }
      state.set(n.name, 'done');
      order.push(n);
    };
    for (const n of this.pending) visit(n, []);
    return order;
  }
}

/**
 * A chain of layers, each feeding the next through port 'y'. Layers may be given as
 * `[name, layer]` pairs; unnamed layers are called `<kind>_<index>`.
 *
 *   const g = sequential([new Dense({ units: 8, activation: 'relu' }), new Dense({ units: 1 })], { input: ['batch', 4] });
 */
export function sequential(
  layers: readonly (Layer | readonly [string, Layer])[],
  opts: { input: Shape; dtype?: DType; inputName?: string; outputName?: string },
): Graph {
  const g = new GraphBuilder();
  let x: Port = g.input(opts.inputName ?? 'x', opts.input, opts.dtype ?? 'float32');
  layers.forEach((entry, i) => {
    const [name, layer] = Array.isArray(entry)
      ? (entry as readonly [string, Layer])
      : [`${(entry as Layer).kind.toLowerCase()}_${i + 1}`, entry as Layer];
    x = g.node(name, layer, x);
  });
  g.output(opts.outputName ?? 'y', x);
  return g.build();
}

/** Rebuild a graph from its JSON, resolving layer kinds (the DI layer registry provides `resolve`). */
export function graphFromJSON(json: GraphJSON, resolve: LayerResolver): Graph {
  if (json?.format !== 'ganglion-graph' || json.version !== 1) {
    throw new GraphError(
      `not a Ganglion graph (format ${JSON.stringify(json?.format)}, version ${JSON.stringify(json?.version)}); expected format "ganglion-graph" version 1`,
    );
  }
  const g = new GraphBuilder();
  for (const i of json.inputs) g.input(i.name, i.shape, i.dtype);
  for (const n of json.nodes) {
    const cls = resolve(n.kind);
    if (!cls)
      throw new GraphError(`node "${n.name}": unknown layer kind "${n.kind}"; bind its plugin in the layer registry`);
    const inputs: Record<string, string | undefined> = {};
    for (const [port, src] of Object.entries(n.inputs)) if (src) inputs[port] = src;
    g.node(n.name, new cls(n.config as object), inputs);
  }
  for (const [name, ref] of Object.entries(json.outputs)) g.output(name, ref);
  const graph = g.build();
  const frozen = new Set<string>();
  for (const n of json.nodes) {
    if (n.frozen === undefined) continue;
    const declared = graph.node(n.name).signature.params.map((p) => p.name);
    for (const name of Array.isArray(n.frozen) ? n.frozen : [n.frozen]) {
      if (typeof name !== 'string' || !declared.includes(name))
        throw new GraphError(
          `node "${n.name}": frozen parameter ${JSON.stringify(name)} is not one of its parameters (${declared.join(', ')})`,
        );
      frozen.add(`${n.name}.${name}`);
    }
  }
  return frozen.size > 0 ? graph.freeze((key) => frozen.has(key)) : graph;
}
