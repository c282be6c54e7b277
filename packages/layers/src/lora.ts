// LoRA (Hu et al. 2021), with PEFT's parameter layout and initialization: a frozen projection
// y = x Wᵀ + b gains a trainable low-rank update
//   y = x Wᵀ + b + (alpha / rank) · dropout(x) Aᵀ Bᵀ,   A [rank, in], B [out, rank]
// A starts U(±1/√in) (PEFT's kaiming-uniform with a = √5), B at zero, so a new adapter changes
// nothing until it is trained; the dropout (PEFT's lora_dropout) acts in training only.
// `loraDelta` is that update, the one implementation every LoRA here uses: MultiHeadAttention's
// (and so TransformerBlock's) `lora` option adapts its q/k/v/o projections with it, in `forward`
// and in the native ONNX lowering alike, and the Linear layer wraps one torch-layout projection.
// Parameter names: `lora_A` / `lora_B` on a Linear, `lora_<t>_A` / `lora_<t>_B` (t = q, k, v,
// o) on an attention — all contain `lora_`, so `graph.freeze((key) => !key.includes('.lora_'))`
// trains only the adapters.
// `mergeLora` folds every adapter of a graph into its base weight (W += alpha/rank · B A) and
// returns the same graph without LoRA, for export or plain inference.
import {
  AttributeError,
  type Graph,
  GraphError,
  type GraphJSON,
  Layer,
  type LayerClass,
  type LayerContext,
  type LayerSignature,
  ParamStore,
  type ParamSpec,
  type Tensor,
  type TensorSpec,
  add,
  concat,
  expectPort,
  graphFromJSON,
  lastDim,
  matMul,
  mul,
  slice,
  tidy,
} from '@ganglion/core';
import { dropout } from './attention.js';
import { linear, linearInit } from './linear.js';

/** One adapter's settings. */
export interface LoraOptions {
  /** The rank r of the update B A. */
  readonly rank: number;
  /** The update is scaled by alpha / rank. */
  readonly alpha: number;
  /** Dropout on the adapter's input, in training. Default 0. */
  readonly dropout?: number;
  /**
   * 'peft' (default): B starts at zero, so the adapter starts as a no-op. 'random': B starts
   * U(±1/√rank) as A does (PEFT's init_lora_weights=False), an adapter that acts from the start.
   */
  readonly init?: 'peft' | 'random';
}

/** The projections of an attention an adapter can target. */
export type LoraTarget = 'q' | 'k' | 'v' | 'o';

/** An attention's `lora` option: one adapter, of the same settings, on each target projection. */
export interface AttentionLora extends LoraOptions {
  readonly targets: readonly LoraTarget[];
}

const TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o'];

/** Config checks of a `lora` option (`who` names the layer in the error). */
export function checkLora(who: string, o: LoraOptions & { readonly targets?: readonly string[] }): void {
  if (!Number.isInteger(o.rank) || o.rank < 1)
    throw new AttributeError(`${who}: lora.rank must be a positive integer, got ${o.rank}`);
  if (typeof o.alpha !== 'number' || !Number.isFinite(o.alpha))
    throw new AttributeError(`${who}: lora.alpha must be a finite number, got ${String(o.alpha)}`);
  if (o.dropout !== undefined && !(o.dropout >= 0 && o.dropout < 1))
    throw new AttributeError(`${who}: lora.dropout must be in [0, 1), got ${o.dropout}`);
  if (o.init !== undefined && o.init !== 'peft' && o.init !== 'random')
    throw new AttributeError(`${who}: lora.init must be 'peft' or 'random', got ${JSON.stringify(o.init)}`);
  if (o.targets === undefined) return;
  const t = o.targets;
  if (
    !Array.isArray(t) ||
    t.length === 0 ||
    t.some((x) => !TARGETS.includes(x as LoraTarget)) ||
    new Set(t).size !== t.length
  )
    throw new AttributeError(
      `${who}: lora.targets must be distinct projections among q, k, v, o, got ${JSON.stringify(o.targets)}`,
    );
}

/**
 * The parameters of one adapter from `inFeatures` to `outFeatures`: `<name>_A` [rank, in] and
 * `<name>_B` [out, rank].
 *
 *   loraParams('lora_q', dim, dim, { rank: 8, alpha: 16 })   // lora_q_A, lora_q_B
 */
export function loraParams(name: string, inFeatures: number, outFeatures: number, o: LoraOptions): ParamSpec[] {
  return [
    { name: `${name}_A`, shape: [o.rank, inFeatures], init: linearInit(inFeatures) },
    {
      name: `${name}_B`,
      shape: [outFeatures, o.rank],
      init: o.init === 'random' ? linearInit(o.rank) : { kind: 'zeros' },
    },
  ];
}

/**
 * The adapter's update of a projection of x: (alpha / rank) · dropout(x) Aᵀ Bᵀ (dropout only in
 * training, and only with a context).
 *
 *   const q = add(linear(x, wq), loraDelta(x, p.lora_q_A, p.lora_q_B, o.lora, ctx))
 */
export function loraDelta(x: Tensor, a: Tensor, b: Tensor, o: LoraOptions, ctx?: LayerContext): Tensor {
  const input = ctx && o.dropout ? dropout(x, o.dropout, ctx) : x;
  return mul(linear(linear(input, a), b), o.alpha / o.rank);
}

export interface LinearConfig {
  /** Output features. */
  readonly units: number;
  /** Learn a bias [units]. Default true. */
  readonly bias?: boolean;
  /** The adapter; without it the layer is a plain torch-layout linear (what `mergeLora` leaves). */
  readonly lora?: LoraOptions;
}

/**
 * A projection in torch.nn.Linear's layout, optionally with a LoRA adapter: y = x Wᵀ + b (+
 * loraDelta(x)). (Dense is the Keras-layout one, kernel [in, units], with an activation.)
 * Parameters: weight [units, in] (U(±1/√in)), bias [units] (zeros; none when `bias` is false),
 * lora_A [rank, in], lora_B [units, rank]. Port x [..., in] -> y [..., units].
 *
 *   g.node('proj', new Linear({ units: 64, lora: { rank: 4, alpha: 8 } }), h)
 */
export class Linear extends Layer<LinearConfig> {
  static override readonly kind = 'Linear';
  readonly inputs = [{ name: 'x' }];

  constructor(config: LinearConfig) {
    super(config);
    if (!Number.isInteger(config.units) || config.units < 1)
      throw new AttributeError(`Linear: units must be a positive integer, got ${config.units}`);
    if (config.lora) checkLora('Linear', config.lora);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const x = expectPort('x', inputs.x, 'float32', ['...', null]);
    const inFeatures = lastDim('x', x);
    const { units, lora } = this.config;
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape.slice(0, -1), units] }],
      params: [
        { name: 'weight', shape: [units, inFeatures], init: linearInit(inFeatures) },
        ...(this.config.bias === false ? [] : [{ name: 'bias', shape: [units], init: { kind: 'zeros' } } as const]),
        ...(lora ? loraParams('lora', inFeatures, units, lora) : []),
      ],
    };
  }

  forward({ x }: Readonly<Record<string, Tensor>>, p: Readonly<Record<string, Tensor>>, ctx: LayerContext): Tensor {
    const y = linear(x, p.weight, p.bias);
    const { lora } = this.config;
    return lora ? add(y, loraDelta(x, p.lora_A, p.lora_B, lora, ctx)) : y;
  }
}

/** `<prefix>lora_A` (Linear) or `<prefix>lora_<t>_A` (attention), split into its parts. */
const LORA_PARAM = /^(.*?)lora_(?:([qkvo])_)?([AB])$/;

/**
 * The base weight an adapter folds into — `<prefix>weight` (Linear), `<prefix>out_proj_weight`
 * (o) or `<prefix>in_proj_weight` (q, k, v) — and for q/k/v its row block: q [0, dim), then k and
 * v, kvRows each (attentionParams' layout, read off the weight's shape [dim + 2·kvRows, dim]).
 */
function foldInto(
  prefix: string,
  target: string | undefined,
  outRows: number,
  shapeOf: (name: string) => readonly number[],
): { name: string; rows?: [number, number] } {
  if (target === undefined) return { name: `${prefix}weight` };
  if (target === 'o') return { name: `${prefix}out_proj_weight` };
  const name = `${prefix}in_proj_weight`;
  const [total, dim] = shapeOf(name);
  const kvRows = (total - dim) / 2;
  const from = target === 'q' ? 0 : target === 'k' ? dim : dim + kvRows;
  const to = from + (target === 'q' ? dim : kvRows);
  if (to - from !== outRows)
    throw new GraphError(
      `mergeLora: "${prefix}lora_${target}_B" has ${outRows} rows, but its block of "${name}" [${total}, ${dim}] has ${to - from}`,
    );
  return { name, rows: [from, to] };
}

/**
 * Fold every LoRA adapter of a graph into its base weight — W += (alpha / rank) · B A, for q/k/v
 * into its row block of the fused in_proj_weight — and rebuild the graph without the `lora`
 * options (a Linear keeps its weight, now without an adapter). Its logits equal the adapted
 * graph's (up to float rounding). The returned store holds new tensors for the merged weights and
 * shares every other tensor with `params`: keep `params` undisposed while the result is in use.
 *
 *   const { graph: plain, params: merged } = mergeLora(tuned, runtime.params);
 */
export function mergeLora(graph: Graph, params: ParamStore): { graph: Graph; params: ParamStore } {
  const classes = new Map(graph.nodes.map((n) => [n.layer.kind, n.layer.constructor as LayerClass<object>]));
  const merged = new Map<string, Tensor>();
  const json = graph.toJSON();
  const nodes = json.nodes.map((entry, i): GraphJSON['nodes'][number] => {
    const node = graph.nodes[i];
    const config = node.layer.config as { readonly lora?: LoraOptions };
    if (!config.lora) return entry;
    const { rank, alpha } = config.lora;
    const deltas = new Map<string, { rows?: [number, number]; delta: Tensor }[]>();
    const loraNames = new Set<string>();
    for (const spec of node.signature.params) {
      const m = LORA_PARAM.exec(spec.name);
      if (!m) continue;
      loraNames.add(spec.name);
      const [, prefix, target, which] = m;
      if (which !== 'A') continue;
      const a = params.get(`${node.name}.${spec.name}`);
      const b = params.get(`${node.name}.${prefix}lora_${target ? `${target}_` : ''}B`);
      const base = foldInto(
        prefix,
        target,
        b.shape[0] as number,
        (name) => params.get(`${node.name}.${name}`).shape as number[],
      );
      const list = deltas.get(base.name) ?? [];
      list.push({ rows: base.rows, delta: mul(matMul(b, a), alpha / rank) });
      deltas.set(base.name, list);
    }
    for (const [name, list] of deltas) {
      const key = `${node.name}.${name}`;
      merged.set(key, foldDeltas(params.get(key), list));
      for (const d of list) d.delta.dispose();
    }
    const { lora: _, ...plain } = config;
    const frozen = entry.frozen?.filter((f) => !loraNames.has(f));
    return { ...entry, config: plain, frozen: frozen?.length ? frozen : undefined };
  });
  const out = graphFromJSON({ ...json, nodes }, (kind) => classes.get(kind));
  const store = new ParamStore(out);
  for (const key of store.keys()) store.set(key, merged.get(key) ?? params.get(key), false);
  return { graph: out, params: store };
}

/** W plus each delta: whole-matrix ones, or ones on row blocks (cut W at the blocks' edges, rejoin). */
function foldDeltas(weight: Tensor, list: readonly { rows?: [number, number]; delta: Tensor }[]): Tensor {
  return tidy(() => {
    if (list.every((d) => !d.rows)) return list.reduce((w, d) => add(w, d.delta), weight);
    const rows = weight.shape[0] as number;
    const edges = [...new Set([0, rows, ...list.flatMap((d) => d.rows ?? [])])].sort((x, y) => x - y);
    const parts = edges.slice(0, -1).map((from, k) => {
      const to = edges[k + 1];
      const part = slice(weight, [from], [to], [0]);
      const d = list.find((b) => b.rows?.[0] === from && b.rows[1] === to);
      return d ? add(part, d.delta) : part;
    });
    return parts.length === 1 ? parts[0] : concat(parts, 0);
  });
}
