// The dataflow graph as SVG, drawn from the graph's own nodes and edges (the same ones `toMermaid()`
// lists): each node in a row by its depth from the inputs, edges as curves. `flash` lights an edge
// while a message passes over it: activations forward (producer → consumer), gradients backward.
import type { Graph } from '@ganglion/core';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 150;
const NODE_H = 40;
const GAP_X = 30;
const GAP_Y = 36;

const el = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

const edgeId = (from: string, to: string): string => `edge:${from}->${to}`;

export class GraphView {
  private readonly edges = new Map<string, SVGPathElement>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    readonly svg: SVGSVGElement,
    graph: Graph,
  ) {
    // Depth: inputs 0, a node one below its deepest input.
    const depth = new Map<string, number>(graph.inputs.map((i) => [i.name, 0]));
    const links: [string, string][] = [];
    for (const n of graph.nodes) {
      let d = 0;
      for (const src of Object.values(n.inputs)) {
        if (!src) continue;
        d = Math.max(d, (depth.get(src.node) ?? 0) + 1);
        if (!links.some(([a, b]) => a === src.node && b === n.name)) links.push([src.node, n.name]);
      }
      depth.set(n.name, d);
    }
    // An input sits one row above its first consumer (the labels next to the loss, not the ids).
    for (const i of graph.inputs) {
      const below = graph.consumers({ node: i.name, port: 'y' }).map((c) => depth.get(c.node) ?? 1);
      if (below.length > 0) depth.set(i.name, Math.min(...below) - 1);
    }
    const rows: string[][] = [];
    for (const [name, d] of depth) (rows[d] ??= []).push(name);
    for (let d = 0; d < rows.length; d++) rows[d] ??= [];
    const width = Math.max(...rows.map((r) => r.length)) * (NODE_W + GAP_X) + GAP_X;
    const pos = new Map<string, { x: number; y: number }>();
    rows.forEach((row, d) => {
      const offset = (width - row.length * (NODE_W + GAP_X) + GAP_X) / 2;
      row.forEach((name, i) => pos.set(name, { x: offset + i * (NODE_W + GAP_X), y: GAP_Y + d * (NODE_H + GAP_Y) }));
    });
    const height = rows.length * (NODE_H + GAP_Y) + GAP_Y;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.replaceChildren();
    for (const [from, to] of links) {
      const a = pos.get(from)!;
      const b = pos.get(to)!;
      const [x1, y1, x2, y2] = [a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y];
      const path = el('path', {
        d: `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`,
        class: 'edge',
        id: edgeId(from, to),
      });
      this.edges.set(edgeId(from, to), path);
      svg.append(path);
    }
    const kinds = new Map(graph.nodes.map((n) => [n.name, n.layer.kind]));
    for (const [name, p] of pos) {
      const g = el('g', { class: kinds.has(name) ? 'node' : 'node input', 'data-node': name });
      g.append(el('rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6 }));
      const label = el('text', { x: p.x + NODE_W / 2, y: p.y + 17, 'text-anchor': 'middle' });
      label.textContent = name;
      const kind = el('text', { x: p.x + NODE_W / 2, y: p.y + 32, 'text-anchor': 'middle', class: 'kind' });
      kind.textContent = kinds.get(name) ?? 'input';
      g.append(label, kind);
      svg.append(g);
    }
  }

  /** Light the edge from → to for a moment ('forward' for activations, 'backward' for gradients). */
  flash(from: string, to: string, direction: 'forward' | 'backward'): void {
    const id = edgeId(from, to);
    const path = this.edges.get(id);
    if (!path) return;
    path.classList.add(direction);
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      setTimeout(() => path.classList.remove('forward', 'backward'), 250),
    );
  }
}
