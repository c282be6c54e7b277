// OnnxModel: an existing .onnx file as a node of a Ganglion graph. By default it is frozen (no
// parameters) and its outputs feed trainable layers after it; with `trainable` its float
// initializers are the node's parameters, so a model exported elsewhere is fine-tuned like any
// layer and exported again with exportOnnx.
//
// Ganglion's Layer.forward is synchronous and onnxruntime's `run` is not, so the layer does not call
// onnxruntime: it reads the file once and evaluates its nodes with Ganglion's own ops
// (import/onnx-ops.ts maps each ONNX op back to core primitives). That runs on whatever backend
// the graph runs on (tfjs, reference), keeps the runtime synchronous, and lets gradients flow
// through to the node's float inputs (and parameters) like through any layer.
//
// A ParamSpec's initializer draws values from a seed and cannot hold the file's weights, so a
// trainable node declares them as NaN and `OnnxModel.loadInitializers` writes the file's values into
// a fresh ParamStore: a store not loaded that way fails loudly (NaN loss) rather than training
// from made-up weights.
//
//   g.node('features', new OnnxModel({ path: 'encoder.onnx' }), ids);
//   g.node('mlp', new OnnxModel({ path: 'mlp.onnx', trainable: true }), x);
//   const params = OnnxModel.loadInitializers(ParamStore.initialize(g.build(), 0, backend));
import { readFileSync } from 'node:fs';
import {
  type Dim,
  GraphError,
  Layer,
  type ParamSpec,
  type ParamStore,
  ShapeError,
  isStaticShape,
  type LayerResult,
  type LayerSignature,
  type PortSpec,
  type Shape,
  type Tensor,
  type TensorSpec,
  expectPort,
  formatShape,
  mulDims,
  tensor,
} from '@ganglion/core';
import { OnnxProgram, type ProgramOptions, type ProgramPort } from './onnx-program.js';

export interface OnnxModelConfig {
  /** The .onnx file (read once, when the layer is made). */
  readonly path: string;
  /**
   * Make the file's float32 initializers (rank >= 1, read as tensors) parameters of the node, named
   * after the initializer ('fc1.weight' -> 'fc1_weight'); integer, scalar and shape initializers stay
   * constants. Load their values with `OnnxModel.loadInitializers`. Default false.
   */
  readonly trainable?: boolean;
  /**
   * With `trainable`, an initializer some node reads where no gradient flows (a comparison,
   * Where's condition, a cast to int): 'freeze' (default) keeps it a frozen parameter
   * (trainable: false), 'error' throws naming the initializer, the node and its op.
   */
  readonly nonDifferentiable?: ProgramOptions['nonDifferentiable'];
}

/** ONNX value names may hold dots ('state_out.lstm1.h'); port names may not ('node.port' refs). */
export function portName(onnxName: string): string {
  return onnxName.replace(/[^A-Za-z0-9_]/g, '_');
}

export class OnnxModel extends Layer<OnnxModelConfig> {
  static override readonly kind = 'OnnxModel';
  readonly program: OnnxProgram;
  readonly inputs: readonly { name: string }[];

  constructor(config: OnnxModelConfig, program?: OnnxProgram) {
    super(config);
    this.program = program ?? OnnxProgram.fromBytes(readBytes(config.path), `"${config.path}"`, programOptions(config));
    this.inputs = this.program.inputs.map((i) => ({ name: portName(i.name) }));
  }

  /**
   * A layer over model bytes already in memory (`path` is only recorded in its config).
   *
   *   OnnxModel.fromBytes(bytes, 'mlp.onnx', { trainable: true })
   */
  static fromBytes(bytes: Uint8Array, path = '<memory>', options: Omit<OnnxModelConfig, 'path'> = {}): OnnxModel {
    const config = { path, ...options };
    return new OnnxModel(config, OnnxProgram.fromBytes(bytes, `"${path}"`, programOptions(config)));
  }

  /**
   * Write the file's initializer values into the parameters of every trainable OnnxModel node of
   * `store`'s graph, on the backend the store's tensors are on. Returns the store.
   *
   *   const params = OnnxModel.loadInitializers(ParamStore.initialize(graph, 0, backend));
   */
  static loadInitializers(store: ParamStore): ParamStore {
    for (const [key, { node, spec }] of store.specs) {
      const layer = store.graph.node(node).layer;
      if (!(layer instanceof OnnxModel)) continue;
      const backend = store.has(key) ? store.get(key).backend : undefined;
      store.set(key, tensor(layer.program.initialValue(spec.name), spec.shape, 'float32', backend));
    }
    return store;
  }

  /** The model's metadata_props (e.g. a vocabulary stored at export). */
  get metadata(): Readonly<Record<string, string>> {
    return this.program.metadata;
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    // Bind the model's dim_params to the dims wired in, then write the outputs' shapes with them.
    const bound = new Map<string, Dim>();
    for (const p of this.program.inputs) {
      const port = portName(p.name);
      const spec = expectPort(port, inputs[port], p.dtype);
      if (spec.shape.length !== p.shape.length) {
        throw new GraphError(
          `input "${port}" has shape ${formatShape(spec.shape)}, but the model's input "${p.name}" is ${formatShape(p.shape)}`,
        );
      }
      p.shape.forEach((d, k) => {
        if (typeof d === 'number') {
          if (spec.shape[k] !== d)
            throw new GraphError(
              `input "${port}" has shape ${formatShape(spec.shape)}, but the model's input "${p.name}" is ${formatShape(p.shape)}`,
            );
        } else if (!bound.has(d)) bound.set(d, spec.shape[k]);
      });
    }
    const outputs: PortSpec[] = this.program.outputs.map((o) => ({
      name: portName(o.name),
      dtype: o.dtype,
      shape: substitute(o, bound),
    }));
    const params: ParamSpec[] = this.program.params.map((p) => ({
      name: p.name,
      shape: p.shape,
      // No initializer holds the file's values: NaN until loadInitializers writes them.
      init: { kind: 'constant', value: Number.NaN },
      ...(p.trainable ? {} : { trainable: false }),
    }));
    return { outputs, params };
  }

  forward(inputs: Readonly<Record<string, Tensor>>, params: Readonly<Record<string, Tensor>> = {}): LayerResult {
    for (const [port, t] of Object.entries(inputs)) {
      // The evaluator reads shapes as numbers (Shape, Reshape targets): a traced export with
      // symbolic dims cannot go through it.
      if (!isStaticShape(t.shape))
        throw new ShapeError(
          `input "${port}" has symbolic shape ${formatShape(t.shape)}; OnnxModel evaluates with concrete dims only`,
        );
    }
    const feeds = Object.fromEntries(this.program.inputs.map((p) => [p.name, inputs[portName(p.name)]]));
    const out = this.program.run(feeds, params);
    return { outputs: Object.fromEntries(this.program.outputs.map((o) => [portName(o.name), out[o.name]])) };
  }
}

function programOptions(config: OnnxModelConfig): ProgramOptions {
  return { trainable: config.trainable ?? false, nonDifferentiable: config.nonDifferentiable ?? 'freeze' };
}

function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new GraphError(`OnnxModel: cannot read "${path}": ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** An output's declared shape with bound dim_params replaced (monomials like '64*batch' too). */
function substitute(o: ProgramPort, bound: Map<string, Dim>): Shape {
  return o.shape.map((d) => {
    if (typeof d === 'number') return d;
    if (bound.has(d)) return bound.get(d)!;
    const parts = d.split('*').map((s) => s.trim());
    if (parts.length > 1 && parts.every((p) => /^\d+$/.test(p) || bound.has(p))) {
      return parts.reduce<Dim>((acc, p) => mulDims(acc, /^\d+$/.test(p) ? Number(p) : bound.get(p)!), 1);
    }
    return d;
  });
}
