// OnnxModel: an existing .onnx file as a frozen node of a Ganglion graph (inference only, no
// parameters); its outputs can feed trainable layers after it.
//
// Ganglion's Layer.forward is synchronous and onnxruntime's `run` is not, so the layer does not call
// onnxruntime: it reads the file once and evaluates its nodes with Ganglion's own ops
// (import/onnx-ops.ts maps each ONNX op back to core primitives). That runs on whatever backend
// the graph runs on (tfjs, reference), keeps the runtime synchronous, and lets gradients flow
// through to the node's float inputs like through any layer.
//
//   g.node('features', new OnnxModel({ path: 'encoder.onnx' }), ids);
import { readFileSync } from 'node:fs';
import {
  type Dim,
  GraphError,
  Layer,
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
} from '@ganglion/core';
import { OnnxProgram, type ProgramPort } from './onnx-program.js';

export interface OnnxModelConfig {
  /** The .onnx file (read once, when the layer is made). */
  readonly path: string;
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
    this.program = program ?? OnnxProgram.fromBytes(readBytes(config.path), `"${config.path}"`);
    this.inputs = this.program.inputs.map((i) => ({ name: portName(i.name) }));
  }

  /** A layer over model bytes already in memory (`path` is only recorded in its config). */
  static fromBytes(bytes: Uint8Array, path = '<memory>'): OnnxModel {
    return new OnnxModel({ path }, OnnxProgram.fromBytes(bytes, `"${path}"`));
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
    return { outputs, params: [] };
  }

  forward(inputs: Readonly<Record<string, Tensor>>): LayerResult {
    for (const [port, t] of Object.entries(inputs)) {
      // The evaluator reads shapes as numbers (Shape, Reshape targets): a traced export with
      // symbolic dims cannot go through it.
      if (!isStaticShape(t.shape))
        throw new ShapeError(
          `input "${port}" has symbolic shape ${formatShape(t.shape)}; OnnxModel evaluates with concrete dims only`,
        );
    }
    const feeds = Object.fromEntries(this.program.inputs.map((p) => [p.name, inputs[portName(p.name)]]));
    const out = this.program.run(feeds);
    return { outputs: Object.fromEntries(this.program.outputs.map((o) => [portName(o.name), out[o.name]])) };
  }
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
