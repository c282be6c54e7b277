// Runtime shape tensors for symbolic dims. An attribute holding a symbolic dim (a Reshape or Expand
// target [batch, time, 64]) becomes a 1-D int64 tensor computed in the graph: each symbol is read
// off the graph input it came from (`Shape(ids, start=1, end=2)` for 'time'), monomials such as
// '64*batch*time' multiply, and the dims are concatenated. Each piece is built once and reused.
import { type Dim, ExportError, type OnnxAttribute, type Shape, formatShape, isStaticShape } from '@ganglion/core';
import type { OnnxGraph } from './onnx-graph.js';

interface Source {
  readonly value: string;
  readonly axis: number;
}

/** `coef*a*b` as its coefficient and symbols. */
function parseMonomial(d: string): { coef: number; symbols: string[] } {
  let coef = 1;
  const symbols: string[] = [];
  for (const part of d.split('*')) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else if (p.length > 0) symbols.push(p);
  }
  return { coef, symbols };
}

/** Shape's attributes reading one axis. */
export function shapeAttrs(axis: number): Record<string, OnnxAttribute> {
  return { start: { type: 'int', value: axis }, end: { type: 'int', value: axis + 1 } };
}

export class ShapeTensors {
  /** Every (input, axis) each plain symbol appears at, in input order. */
  private readonly sources = new Map<string, Source[]>();
  private readonly cache = new Map<string, string>();
  /** The Shape node emitted for each symbol. */
  private readonly symbolNodes = new Map<string, { node: string; source: Source }>();

  constructor(private readonly graph: OnnxGraph) {}

  /** Remember where each plain symbol of a graph input's shape can be read (first input first). */
  bindInput(value: string, shape: Shape): void {
    shape.forEach((d, axis) => {
      if (typeof d === 'string' && /^[A-Za-z_][\w.]*$/.test(d))
        this.sources.set(d, [...(this.sources.get(d) ?? []), { value, axis }]);
    });
  }

  /**
   * Before pruning: a symbol read off an input that nothing else needs (the labels of a training
   * graph exported for its logits) is read off another input that has it, so that input can go.
   * `needed(value)` tells whether a value is needed other than by these Shape nodes.
   */
  rehome(needed: (value: string) => boolean, rewire: (node: string, value: string, axis: number) => void): void {
    for (const [symbol, { node, source }] of this.symbolNodes) {
      if (!needed(node) || needed(source.value)) continue;
      const alternative = this.sources.get(symbol)?.find((s) => needed(s.value));
      if (alternative) rewire(node, alternative.value, alternative.axis);
    }
  }

  /** Names of the Shape nodes that read symbols off inputs. */
  symbolNodeNames(): Set<string> {
    return new Set([...this.symbolNodes.values()].map((s) => s.node));
  }

  /** A 1-D int64 tensor holding `shape`: a constant when static, computed from the inputs otherwise. */
  shape(shape: Shape): string {
    if (isStaticShape(shape)) return this.graph.int64(shape);
    return this.cached(
      `shape:${formatShape(shape)}`,
      () =>
        this.graph.node(
          'Concat',
          shape.map((d) => this.dim(d)),
          { axis: { type: 'int', value: 0 } },
          1,
          'shape',
        )[0],
    );
  }

  /**
   * A Reshape target: like `shape`, but the first symbolic dim is written -1 (Reshape infers it),
   * so the common case of one symbolic dim needs no Shape node at all.
   */
  reshapeTarget(shape: Shape): string {
    const first = shape.findIndex((d) => typeof d === 'string');
    if (first < 0) return this.graph.int64(shape as number[]);
    const rest = shape.map((d, i) => (i === first ? -1 : d));
    if (isStaticShape(rest)) return this.graph.int64(rest);
    return this.cached(
      `reshape:${formatShape(rest)}`,
      () =>
        this.graph.node(
          'Concat',
          rest.map((d) => this.dim(d)),
          { axis: { type: 'int', value: 0 } },
          1,
          'shape',
        )[0],
    );
  }

  /** A 1-element int64 tensor holding one dim. */
  dim(d: Dim): string {
    if (typeof d === 'number') return this.graph.int64([d]);
    return this.cached(`dim:${d}`, () => {
      const { coef, symbols } = parseMonomial(d);
      let v: string | undefined = coef === 1 ? undefined : this.graph.int64([coef]);
      for (const s of symbols) {
        const sym = this.symbol(s);
        v = v === undefined ? sym : this.graph.node('Mul', [v, sym], {}, 1, `shape/${d}`)[0];
      }
      return v ?? this.graph.int64([coef]);
    });
  }

  private symbol(s: string): string {
    return this.cached(`sym:${s}`, () => {
      const src = this.sources.get(s)?.[0];
      if (!src) {
        throw new ExportError(
          `symbolic dim "${s}" does not appear in any graph input's shape, so the exported graph cannot compute it`,
        );
      }
      const node = this.graph.node('Shape', [src.value], shapeAttrs(src.axis), 1, `shape/${s}`)[0];
      this.symbolNodes.set(s, { node, source: src });
      return node;
    });
  }

  private cached(key: string, make: () => string): string {
    let v = this.cache.get(key);
    if (v === undefined) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }
}
