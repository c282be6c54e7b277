// The parameter store: every parameter tensor of a graph, keyed `<node>.<param>` (the names
// checkpoints use). Parameters are immutable tensors; an optimizer step replaces them.

import type { Backend } from '../backend.js';
import { tensor } from '../creation.js';
import { getBackend, keep } from '../engine.js';
import { GraphError } from '../errors.js';
import { deriveSeed } from '../random/prng.js';
import { formatShape, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import type { Graph } from './graph.js';
import { initialValues } from './initializers.js';
import type { ParamSpec } from './layer.js';

export const paramKey = (node: string, param: string): string => `${node}.${param}`;

export class ParamStore {
  private readonly tensors = new Map<string, Tensor>();
  readonly specs = new Map<string, { node: string; spec: ParamSpec }>();

  constructor(readonly graph: Graph) {
    for (const p of graph.params()) this.specs.set(paramKey(p.node, p.spec.name), p);
  }

  /**
   * Fresh parameters from each spec's initializer. The seed of each parameter is derived from
   * `seed` and its name, so adding a node does not change the others' initial weights. Keys `given`
   * holds (same shapes) take its tensors instead: new layers on a trained model (LoRA adapters) get
   * fresh values, the rest keep theirs.
   */
  static initialize(graph: Graph, seed: number, backend: Backend = getBackend(), given?: ParamStore): ParamStore {
    const store = new ParamStore(graph);
    for (const [key, { spec }] of store.specs) {
      if (given?.has(key)) {
        store.set(key, given.get(key), false);
        continue;
      }
      const values = initialValues(spec.init, spec.shape, deriveSeed(seed, key));
      store.set(key, tensor(values, spec.shape, 'float32', backend));
    }
    return store;
  }

  get(key: string): Tensor {
    const t = this.tensors.get(key);
    if (!t) throw new GraphError(`no parameter "${key}" (parameters: ${[...this.specs.keys()].join(', ')})`);
    return t;
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** Replace a parameter; the old tensor is disposed unless it is the same or `disposeOld` is false. */
  set(key: string, value: Tensor, disposeOld = true): void {
    const entry = this.specs.get(key);
    if (!entry)
      throw new GraphError(`no parameter "${key}" in the graph (parameters: ${[...this.specs.keys()].join(', ')})`);
    if (!sameShape(value.shape, entry.spec.shape)) {
      throw new GraphError(
        `parameter "${key}" has shape ${formatShape(entry.spec.shape)}, got ${formatShape(value.shape)}`,
      );
    }
    const old = this.tensors.get(key);
    this.tensors.set(key, keep(value));
    if (old && old !== value && disposeOld) old.dispose();
  }

  /** Parameters of one node, by parameter name. */
  ofNode(node: string): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [key, { node: n, spec }] of this.specs) if (n === node) out[spec.name] = this.get(key);
    return out;
  }

  keys(): string[] {
    return [...this.specs.keys()];
  }

  trainableKeys(): string[] {
    return [...this.specs].filter(([, p]) => p.spec.trainable !== false).map(([k]) => k);
  }

  entries(): [string, Tensor][] {
    return this.keys().map((k) => [k, this.get(k)]);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}
