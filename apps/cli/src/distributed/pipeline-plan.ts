// Splitting a graph into pipeline stages. Only the nodes the loss needs are placed (a node nothing
// of the loss reads is not run while training). `stages: S` cuts them, in topological order, into
// S contiguous runs of about equal parameter count; a placement map `{ node: stage }` puts each node
// itself, as long as every edge runs forward (from a stage to the same or a later one). The plan
// says, for each stage, which ports it receives (graph inputs from the driver, outputs of earlier
// stages), which it sends, and which gradients come back over which edges. `stageGraphs` builds
// the graphs a stage's runtimes run: its nodes with received ports as graph inputs, and for the
// backward wave a PipelineSeam over its sent ports (or the loss), seeded by fed gradients.
//
//   const plan = planPipeline(graph, { stages: 2 });
//   const { forward, train } = stageGraphs(graph, plan, 0);
import {
  ConfigError,
  Graph,
  type GraphInput,
  type GraphNode,
  type PortRef,
  formatPortRef,
  isFloat,
} from '@ganglion/core';
import { PipelineSeam } from './pipeline-seam.js';

export interface PipelinePlanOptions {
  /** The graph output to minimize (default 'loss'). */
  readonly loss?: string;
  /** Cut the nodes into this many contiguous stages. */
  readonly stages?: number;
  /** Or place each node the loss needs on a stage, 0-based: `{ embed: 0, lstm1: 0, lstm2: 1, head: 1, loss: 1 }`. */
  readonly placement?: Readonly<Record<string, number>>;
}

/** A port a stage receives, and who sends it: a stage, or -1 for the driver (a graph input). */
export interface StageInput {
  readonly ref: PortRef;
  readonly from: number;
}

/** A port a stage sends, and the stages that read it. */
export interface StageOutput {
  readonly ref: PortRef;
  readonly to: readonly number[];
}

/** A sent port whose gradient comes back, and the stages that send it (each its consumers' sum). */
export interface StageGradient {
  readonly ref: PortRef;
  readonly from: readonly number[];
}

export interface StagePlan {
  readonly index: number;
  /** Its nodes, in topological order. */
  readonly nodes: readonly string[];
  readonly inputs: readonly StageInput[];
  readonly outputs: readonly StageOutput[];
  /** Outputs whose gradients the later stages send back. */
  readonly gradientsIn: readonly StageGradient[];
  /** Inputs from earlier stages whose gradient this stage sends back. */
  readonly gradientsOut: readonly PortRef[];
  /** The stage whose nodes include the loss (the last one). */
  readonly hasLoss: boolean;
}

export interface PipelinePlan {
  readonly loss: string;
  readonly lossRef: PortRef;
  readonly placement: Readonly<Record<string, number>>;
  readonly stages: readonly StagePlan[];
}

/** The seam node's name, and the graph input feeding gradient i to it. */
export const SEAM = 'pipeline:seam';
export const seedInput = (i: number): string => `pipeline:g${i}`;

/** NATS subject tokens: no whitespace, `*` or `>`, no empty token. */
const SUBJECT_SAFE = /^[^\s*>.]+(\.[^\s*>.]+)*$/;

/**
 * Place the nodes the loss needs on stages, and work out what flows between them.
 *
 *   planPipeline(graph, { stages: 2 }).stages.map((s) => s.nodes); // [['embed', 'lstm1'], ['lstm2', 'head', 'loss']]
 */
export function planPipeline(graph: Graph, opts: PipelinePlanOptions): PipelinePlan {
  const loss = opts.loss ?? 'loss';
  const lossRef = graph.outputs[loss];
  if (!lossRef)
    throw new ConfigError(
      `pipeline: the graph has no output "${loss}" (outputs: ${Object.keys(graph.outputs).join(', ')})`,
    );
  const needed = graph.subgraph([loss]);
  for (const name of [...needed.inputs.map((i) => i.name), ...needed.nodes.map((n) => n.name)])
    if (!SUBJECT_SAFE.test(name))
      throw new ConfigError(
        `pipeline: node "${name}" cannot name a NATS subject (no spaces, "*", ">" or empty parts between dots)`,
      );
  const placement = opts.placement
    ? checkPlacement(needed, opts.placement)
    : balancedPlacement(needed, opts.stages ?? 1);
  const count = Math.max(...Object.values(placement)) + 1;
  const onPath = lossPath(needed, lossRef);
  const stageOf = (node: string): number => (needed.isInput(node) ? -1 : placement[node]);
  const floatEdgeOnPath = (n: GraphNode, port: string) => onPath.has(n.name) && isFloat(n.inputSpecs[port]!.dtype);

  const stages: StagePlan[] = [];
  for (let k = 0; k < count; k++) {
    const nodes = needed.nodes.filter((n) => placement[n.name] === k);
    const inputs = new Map<string, StageInput>();
    const gradientsOut = new Map<string, PortRef>();
    for (const n of nodes)
      for (const [port, src] of Object.entries(n.inputs)) {
        if (!src || stageOf(src.node) === k) continue;
        inputs.set(formatPortRef(src), { ref: src, from: stageOf(src.node) });
        if (stageOf(src.node) >= 0 && floatEdgeOnPath(n, port)) gradientsOut.set(formatPortRef(src), src);
      }
    const outputs: StageOutput[] = [];
    const gradientsIn: StageGradient[] = [];
    for (const n of nodes)
      for (const o of n.signature.outputs) {
        const ref = { node: n.name, port: o.name };
        const readers = needed.consumers(ref).filter((c) => placement[c.node] > k);
        if (readers.length === 0) continue;
        const stagesOf = (cs: readonly PortRef[]) =>
          [...new Set(cs.map((c) => placement[c.node]))].sort((a, b) => a - b);
        outputs.push({ ref, to: stagesOf(readers) });
        const back = readers.filter((c) => floatEdgeOnPath(needed.node(c.node), c.port));
        if (back.length) gradientsIn.push({ ref, from: stagesOf(back) });
      }
    stages.push({
      index: k,
      nodes: nodes.map((n) => n.name),
      inputs: [...inputs.values()],
      outputs,
      gradientsIn,
      gradientsOut: [...gradientsOut.values()],
      hasLoss: placement[lossRef.node] === k,
    });
  }
  return { loss, lossRef, placement, stages };
}

/** The graph input a stage reads a received port from: a graph input keeps its name, another stage's port is `node.port`. */
export function stageInputName(input: StageInput): string {
  return input.from < 0 ? input.ref.node : formatPortRef(input.ref);
}

export interface StageGraphs {
  /** Forward only, with every sent port as an output (stages before the last). */
  readonly forward?: Graph;
  /**
   * The backward wave's graph: its output `loss` is the seam, `objective` the graph's loss on the
   * stage holding it (absent when no gradient reaches the stage).
   */
  readonly train?: Graph;
  /** The ports the seam seeds: the loss, or the sent ports whose gradients come back. */
  readonly seeds: readonly PortRef[];
}

/** The graphs one stage's runtimes run. */
export function stageGraphs(graph: Graph, plan: PipelinePlan, k: number): StageGraphs {
  const stage = plan.stages[k];
  const local = new Set(stage.nodes);
  const renamed = new Map(stage.inputs.map((i) => [formatPortRef(i.ref), stageInputName(i)]));
  for (const name of renamed.values())
    if (name !== undefined && graph.hasNode(name))
      throw new ConfigError(`pipeline: stage ${k} would read port "${name}" as an input, but a node has that name`);
  const inputs: GraphInput[] = stage.inputs.map((i) => ({ name: stageInputName(i), spec: specOf(graph, i.ref) }));
  const nodes: GraphNode[] = stage.nodes.map((name) => {
    const n = graph.node(name);
    const wired = Object.fromEntries(
      Object.entries(n.inputs).map(([port, src]) => [
        port,
        !src || local.has(src.node) ? src : { node: renamed.get(formatPortRef(src))!, port: 'y' },
      ]),
    );
    return { ...n, inputs: wired };
  });
  const forward = stage.hasLoss
    ? undefined
    : new Graph(inputs, nodes, Object.fromEntries(stage.outputs.map((o) => [formatPortRef(o.ref), o.ref])));
  const seeds = stage.hasLoss ? [plan.lossRef] : stage.gradientsIn.map((g) => g.ref);
  if (seeds.length === 0) return { forward, seeds };
  const seam = new PipelineSeam({ ports: seeds.length });
  const seedInputs: GraphInput[] = seeds.map((ref, i) => ({ name: seedInput(i), spec: specOf(graph, ref) }));
  const seamInputs: Record<string, PortRef> = {};
  seeds.forEach((ref, i) => {
    seamInputs[`y${i}`] = ref;
    seamInputs[`g${i}`] = { node: seedInput(i), port: 'y' };
  });
  const inputSpecs = Object.fromEntries(
    seeds.flatMap((ref, i) => [
      [`y${i}`, specOf(graph, ref)],
      [`g${i}`, specOf(graph, ref)],
    ]),
  );
  const seamNode: GraphNode = {
    name: SEAM,
    layer: seam,
    inputs: seamInputs,
    inputSpecs,
    signature: seam.signature(inputSpecs),
  };
  // `objective`: the loss itself, which the seam scales.
  const outputs = { loss: { node: SEAM, port: 'y' }, ...(stage.hasLoss ? { objective: plan.lossRef } : {}) };
  const train = new Graph([...inputs, ...seedInputs], [...nodes, seamNode], outputs);
  return { forward, train, seeds };
}

function specOf(graph: Graph, ref: PortRef) {
  const s = graph.spec(ref);
  return { shape: s.shape, dtype: s.dtype };
}

/** Nodes the loss depends on through float edges: the ones a backward wave visits (as the runtime's). */
function lossPath(graph: Graph, lossRef: PortRef): Set<string> {
  const path = new Set<string>();
  const visit = (name: string): void => {
    if (path.has(name) || graph.isInput(name)) return;
    path.add(name);
    const node = graph.node(name);
    for (const [p, src] of Object.entries(node.inputs)) if (src && isFloat(node.inputSpecs[p]!.dtype)) visit(src.node);
  };
  visit(lossRef.node);
  return path;
}

function checkPlacement(graph: Graph, placement: Readonly<Record<string, number>>): Record<string, number> {
  for (const [node, stage] of Object.entries(placement)) {
    if (!graph.hasNode(node))
      throw new ConfigError(
        `pipeline placement: "${node}" is not a node the loss needs (nodes: ${graph.nodes.map((n) => n.name).join(', ')})`,
      );
    if (!Number.isInteger(stage) || stage < 0)
      throw new ConfigError(`pipeline placement: node "${node}" has stage ${String(stage)}, expected an integer ≥ 0`);
  }
  const missing = graph.nodes.filter((n) => placement[n.name] === undefined).map((n) => n.name);
  if (missing.length)
    throw new ConfigError(`pipeline placement: no stage for node ${missing.map((n) => `"${n}"`).join(', ')}`);
  const used = new Set(Object.values(placement));
  const count = Math.max(...used) + 1;
  for (let k = 0; k < count; k++)
    if (!used.has(k))
      throw new ConfigError(`pipeline placement: stage ${k} has no node (stages are 0 to ${count - 1})`);
  for (const n of graph.nodes)
    for (const src of Object.values(n.inputs)) {
      if (!src || graph.isInput(src.node) || placement[src.node] <= placement[n.name]) continue;
      throw new ConfigError(
        `pipeline placement: node "${n.name}" (stage ${placement[n.name]}) reads "${formatPortRef(src)}" from stage ${placement[src.node]}; edges must run from a stage to the same or a later one`,
      );
    }
  return { ...placement };
}

/** Contiguous runs of nodes whose largest parameter count is as small as it can be (one per node at least). */
function balancedPlacement(graph: Graph, stages: number): Record<string, number> {
  const nodes = graph.nodes;
  if (!Number.isInteger(stages) || stages < 1 || stages > nodes.length)
    throw new ConfigError(
      `pipeline: ${String(stages)} stages for ${nodes.length} nodes; expected an integer from 1 to ${nodes.length}`,
    );
  // Every node costs its parameters, plus one so parameter-free nodes still count.
  const cost = nodes.map((n) => 1 + n.signature.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0));
  const prefix = [0];
  for (const c of cost) prefix.push(prefix[prefix.length - 1] + c);
  const n = nodes.length;
  // best[s][i]: the smallest largest-stage cost of the first i nodes in s stages; cut[s][i] where the last stage starts.
  const best = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let s = 1; s <= stages; s++)
    for (let i = s; i <= n; i++)
      for (let j = s - 1; j < i; j++) {
        const v = Math.max(best[s - 1][j], prefix[i] - prefix[j]);
        if (v < best[s][i]) {
          best[s][i] = v;
          cut[s][i] = j;
        }
      }
  const placement: Record<string, number> = {};
  for (let s = stages, i = n; s > 0; i = cut[s][i], s--)
    for (let j = cut[s][i]; j < i; j++) placement[nodes[j].name] = s - 1;
  return placement;
}
