// OnnxProgram: an ONNX model loaded for evaluation with Ganglion ops (import/onnx-ops.ts). Values
// live on one of two backends: a private float64 reference backend for what is known without the
// graph inputs' values (initializers, constants, shape arithmetic), and the caller's backend for
// everything computed from the inputs. Values computed only from constants are folded once and
// cached (per backend, when moved there), so a forward pass re-runs only the input-dependent part.
// With `trainable`, float initializers the nodes read as tensors are parameters instead (frozen
// ones where a node passes them no gradient: onnx-ops.ts `grads`): fed on every run like graph
// inputs, so the tape sees them and nothing computed from them is folded.
import {
  type Backend,
  type DType,
  GraphError,
  ReferenceBackend,
  type Shape,
  type Tensor,
  keep,
  tensor,
  withBackend,
} from '@ganglion/core';
import {
  ElemType,
  type INodeProto,
  type ITensorProto,
  type IValueInfoProto,
  type ModelProto,
  attributeValue,
  onnx,
  tensorValues,
  toNumber,
} from '../proto.js';
import { type Attrs, type OnnxOp, dtypeOfElem, onnxOps, tensorFromProto } from './onnx-ops.js';

export interface ProgramPort {
  /** The ONNX value name. */
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface ProgramOptions {
  /** Float initializers become parameters (`params`), fed to `run`, instead of constants. */
  readonly trainable?: boolean;
  /**
   * An initializer some node reads where no gradient flows (a comparison, Where's condition, a cast
   * to int): 'freeze' makes it a frozen parameter (default), 'error' throws naming node and op.
   */
  readonly nonDifferentiable?: 'freeze' | 'error';
}

/** A float initializer served as a parameter of a trainable program. */
export interface ProgramParam {
  /** The Ganglion parameter name: the initializer's name with characters other than [A-Za-z0-9_] as '_'. */
  readonly name: string;
  /** The ONNX initializer name. */
  readonly initializer: string;
  readonly shape: readonly number[];
  /** False when some node reads it where no gradient flows (nonDifferentiable: 'freeze'). */
  readonly trainable: boolean;
}

interface Step {
  readonly node: INodeProto;
  readonly name: string;
  readonly op: OnnxOp;
  readonly attrs: Attrs;
  /** Depends on no graph input (folded once). */
  readonly constant: boolean;
}

/** The lowest default-domain opset OnnxModel reads (axes, bounds and shapes as inputs). */
const MIN_IMPORT_OPSET = 13;

export class OnnxProgram {
  readonly inputs: readonly ProgramPort[];
  readonly outputs: readonly ProgramPort[];
  readonly opset: number;
  /** The model's metadata_props (a vocabulary, the exporting graph, ...). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Initializers served as parameters (empty unless made with `trainable`). */
  readonly params: readonly ProgramParam[];
  private readonly initial = new Map<string, Float32Array>();
  private readonly steps: readonly Step[];
  private readonly host = new ReferenceBackend();
  /** Constants (initializers and folded values) on the host backend. */
  private readonly constants = new Map<string, Tensor>();
  /** Constants moved to another backend, per backend. */
  private readonly moved = new Map<Backend, Map<string, Tensor>>();
  private folded = false;

  private constructor(
    readonly source: string,
    model: ModelProto,
    options: ProgramOptions,
  ) {
    const graph = model.graph;
    if (!graph) throw new GraphError(`ONNX model ${source} has no graph`);
    const opsets = new Map((model.opsetImport ?? []).map((o) => [o.domain ?? '', toNumber(o.version)]));
    this.opset = opsets.get('') ?? opsets.get('ai.onnx') ?? 0;
    if (this.opset < MIN_IMPORT_OPSET)
      throw new GraphError(
        `ONNX model ${source} uses opset ${this.opset}; OnnxModel reads opset ${MIN_IMPORT_OPSET} and later`,
      );

    this.metadata = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    const initializers = new Set((graph.initializer ?? []).map((i) => i.name!));
    this.params = options.trainable ? trainableParams(graph.initializer ?? [], graph.node ?? [], options, source) : [];
    const byInitializer = new Set(this.params.map((p) => p.initializer));
    withBackend(this.host, () => {
      for (const init of graph.initializer ?? []) {
        if (byInitializer.has(init.name!)) this.initial.set(init.name!, tensorValues(init).values as Float32Array);
        else this.constants.set(init.name!, keep(tensorFromProto(init, `initializer "${init.name}"`)));
      }
    });
    this.inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name!)).map((i) => port(i, source));
    this.outputs = (graph.output ?? []).map((o) => port(o, source));

    const known = new Set([...initializers].filter((i) => !byInitializer.has(i)));
    const unsupported: string[] = [];
    const steps: Step[] = [];
    for (const [k, node] of (graph.node ?? []).entries()) {
      const name = node.name || `${node.opType}_${k}`;
      const domain = node.domain ?? '';
      const op = domain === '' || domain === 'ai.onnx' ? onnxOps[node.opType!] : undefined;
      if (!op) {
        unsupported.push(`"${name}" (${domain ? `${domain}.` : ''}${node.opType})`);
        continue;
      }
      const attrs = Object.fromEntries((node.attribute ?? []).map((a) => [a.name!, attributeValue(a)]));
      const ins = (node.input ?? []).filter((i) => i !== '');
      const constant = !node.opType!.startsWith('Random') && ins.every((i) => known.has(i));
      if (constant) for (const o of node.output ?? []) known.add(o);
      steps.push({ node, name, op, attrs, constant });
    }
    if (unsupported.length > 0) {
      throw new GraphError(
        `ONNX model ${source}: ${unsupported.length} node(s) have ops OnnxModel cannot evaluate: ${unsupported.slice(0, 8).join(', ')}${unsupported.length > 8 ? ', ...' : ''} (supported: ${Object.keys(onnxOps).sort().join(', ')})`,
      );
    }
    this.steps = steps;
  }

  static fromBytes(bytes: Uint8Array, source = '<bytes>', options: ProgramOptions = {}): OnnxProgram {
    return new OnnxProgram(source, decodeModel(bytes, source), options);
  }

  /** A parameter's value in the file (its initializer), by parameter name. */
  initialValue(name: string): Float32Array {
    const p = this.params.find((q) => q.name === name);
    if (!p) throw new GraphError(`ONNX model ${this.source} has no parameter "${name}"`);
    return this.initial.get(p.initializer)!;
  }

  /**
   * Evaluate the model on `feeds` (keyed by ONNX input name) with the backend of the first feed;
   * a trainable program also takes every parameter in `params` (keyed by parameter name).
   * Returns every graph output.
   */
  run(feeds: Readonly<Record<string, Tensor>>, params: Readonly<Record<string, Tensor>> = {}): Record<string, Tensor> {
    this.fold();
    const first = Object.values(feeds)[0];
    const backend = first?.backend ?? this.host;
    const moved = this.movedFor(backend);
    const env = new Map<string, Tensor>();
    for (const i of this.inputs) {
      const t = feeds[i.name];
      if (!t) throw new GraphError(`ONNX model ${this.source}: input "${i.name}" was not fed`);
      env.set(i.name, t);
    }
    for (const p of this.params) {
      const t = params[p.name];
      if (!t) throw new GraphError(`ONNX model ${this.source}: parameter "${p.name}" was not given`);
      env.set(p.initializer, t);
    }
    /** A value as a tensor on `target`: constants are moved once and cached. */
    const on = (name: string, target: Backend): Tensor | undefined => {
      const v = env.get(name) ?? this.constants.get(name);
      if (!v) return undefined;
      if (v.backend === target) return v;
      if (target === backend && this.constants.has(name)) {
        let m = moved.get(name);
        if (!m) {
          m = keep(tensor(v.dataSync(), v.shape, v.dtype, backend));
          moved.set(name, m);
        }
        return m;
      }
      return tensor(v.dataSync(), v.shape, v.dtype, target);
    };
    for (const step of this.steps) {
      if (step.constant) continue;
      const names = step.node.input ?? [];
      const hostRead = (k: number) => (step.op.hostInputs ?? []).includes(k);
      // Host-side when everything it reads is known without the inputs' values (shape arithmetic).
      const onHost =
        step.node.opType === 'Shape' ||
        names.every((n, k) => n === '' || hostRead(k) || this.constants.has(n) || env.get(n)?.backend === this.host);
      const target = onHost ? this.host : backend;
      const ins = names.map((n, k) => {
        if (n === '') return undefined;
        // Shape only reads its input's shape; values read on the host stay where they are.
        if (step.node.opType === 'Shape' || hostRead(k)) return env.get(n) ?? this.constants.get(n);
        return on(n, target);
      });
      const outs = this.exec(step, ins, target);
      (step.node.output ?? []).forEach((o, k) => outs[k] && o && env.set(o, outs[k]!));
    }
    const result: Record<string, Tensor> = {};
    for (const o of this.outputs) {
      const v = on(o.name, backend);
      if (!v) throw new GraphError(`ONNX model ${this.source}: output "${o.name}" was not computed`);
      result[o.name] = v;
    }
    return result;
  }

  /** Free the cached constants. */
  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    for (const m of this.moved.values()) for (const t of m.values()) t.dispose();
    this.constants.clear();
    this.initial.clear();
    this.moved.clear();
  }

  private exec(step: Step, ins: (Tensor | undefined)[], target: Backend): (Tensor | undefined)[] {
    const ctx = { node: step.name, opset: this.opset, values: (t: Tensor) => Array.from(t.dataSync()) };
    try {
      return withBackend(target, () => step.op.run(ins, step.attrs, ctx));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new GraphError(`ONNX model ${this.source}: node "${step.name}" (${step.node.opType}): ${message}`);
    }
  }

  /** Evaluate the constant-only nodes once, on the host. */
  private fold(): void {
    if (this.folded) return;
    for (const step of this.steps) {
      if (!step.constant) continue;
      const ins = (step.node.input ?? []).map((n) => (n === '' ? undefined : this.constants.get(n)));
      const outs = this.exec(step, ins, this.host);
      (step.node.output ?? []).forEach((o, k) => outs[k] && o && this.constants.set(o, keep(outs[k]!)));
    }
    this.folded = true;
  }

  private movedFor(backend: Backend): Map<string, Tensor> {
    let m = this.moved.get(backend);
    if (!m) {
      m = new Map();
      this.moved.set(backend, m);
    }
    return m;
  }
}

/**
 * The float initializers of rank >= 1 that nodes read as tensors, as parameters. One read as a value
 * on the host (a Clip bound, a Pad value) stays a constant, like shapes and scalars (epsilons,
 * coefficients); Shape reads no values and does not count.
 */
function trainableParams(
  inits: readonly ITensorProto[],
  nodes: readonly INodeProto[],
  options: ProgramOptions,
  source: string,
): ProgramParam[] {
  const uses = new Map<string, { node: string; opType: string; input: number; host: boolean; grad: boolean }[]>();
  for (const [k, node] of nodes.entries()) {
    const op = (node.domain ?? '') === '' || node.domain === 'ai.onnx' ? onnxOps[node.opType!] : undefined;
    if (!op || node.opType === 'Shape') continue;
    const attrs = Object.fromEntries((node.attribute ?? []).map((a) => [a.name!, attributeValue(a)]));
    const grads = typeof op.grads === 'function' ? op.grads(attrs) : op.grads;
    (node.input ?? []).forEach((name, input) => {
      if (name === '') return;
      const use = {
        node: node.name || `${node.opType}_${k}`,
        opType: node.opType!,
        input,
        host: (op.hostInputs ?? []).includes(input),
        grad: grads === 'all' || (grads ?? []).includes(input),
      };
      uses.set(name, [...(uses.get(name) ?? []), use]);
    });
  }
  const params: ProgramParam[] = [];
  const taken = new Set<string>();
  for (const init of inits) {
    const dims = (init.dims ?? []).map(toNumber);
    const read = uses.get(init.name!) ?? [];
    if (init.dataType !== ElemType.FLOAT || dims.length === 0 || read.length === 0 || read.some((u) => u.host))
      continue;
    const blocked = read.find((u) => !u.grad);
    if (blocked && options.nonDifferentiable === 'error') {
      throw new GraphError(
        `ONNX model ${source}: initializer "${init.name}" feeds node "${blocked.node}" (${blocked.opType}, input ${blocked.input}), which passes no gradient to it; use nonDifferentiable: 'freeze' to keep it frozen`,
      );
    }
    let name = init.name!.replace(/[^A-Za-z0-9_]/g, '_');
    for (let n = 2; taken.has(name); n++) name = `${init.name!.replace(/[^A-Za-z0-9_]/g, '_')}_${n}`;
    taken.add(name);
    params.push({ name, initializer: init.name!, shape: dims, trainable: !blocked });
  }
  return params;
}

function port(v: IValueInfoProto, source: string): ProgramPort {
  const tt = v.type?.tensorType;
  if (!tt) throw new GraphError(`ONNX model ${source}: value "${v.name}" is not a tensor`);
  const dims = tt.shape?.dim ?? [];
  const shape = dims.map((d, k) =>
    d.dimParam
      ? d.dimParam
      : d.dimValue !== undefined && d.dimValue !== null
        ? toNumber(d.dimValue)
        : `${v.name}_dim${k}`,
  );
  return { name: v.name!, shape, dtype: dtypeOfElem(tt.elemType ?? 0, `value "${v.name}"`) };
}

function decodeModel(bytes: Uint8Array, source: string): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new GraphError(`${source} is not an ONNX model: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A model's metadata_props, without evaluating anything (any op set). */
export function readOnnxMetadata(bytes: Uint8Array, source = '<bytes>'): Record<string, string> {
  return Object.fromEntries((decodeModel(bytes, source).metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
