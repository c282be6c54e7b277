// What a layer plugin is. A layer declares its config, a static `kind` (its serialization key),
// its ports and parameters (resolved from the shapes wired into it), and a `forward` written with
// core ops. Its backward comes from the tape unless it overrides `backward`.

import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { type Dim, type Shape, formatShape, sameDim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import type { OnnxBuilder } from '../export/native-lowering.js';
import type { GraphNode } from './graph.js';
import type { Initializer } from './initializers.js';
import type { Context } from './messages.js';

export interface PortSpec extends TensorSpec {
  readonly name: string;
}

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Initializer;
  /** Frozen parameters get no ParamGrad. Default true. */
  readonly trainable?: boolean;
}

/** A layer's ports and parameters once its input shapes are known. */
export interface LayerSignature {
  readonly outputs: readonly PortSpec[];
  readonly params: readonly ParamSpec[];
}

export interface InputPortDecl {
  readonly name: string;
  /** An optional port may be left unconnected (e.g. an LSTM's initial state). */
  readonly optional?: boolean;
}

export interface LayerContext {
  /** The node's name in the graph, for error messages. */
  readonly node: string;
  readonly training: boolean;
  readonly context: Context;
  /** State this node returned on the previous wave (streaming), if any. */
  readonly state?: Readonly<Record<string, Tensor>>;
  /** A fresh seed for this node and wave (dropout masks); successive calls differ. */
  nextSeed(): number;
}

export type LayerResult =
  | Tensor
  | {
      readonly outputs: Readonly<Record<string, Tensor>>;
      /** State to carry to this node's next wave when streaming. */
      readonly state?: Readonly<Record<string, Tensor>>;
    };

/**
 * One node's forward, as the runtime is about to run it. A `NodeHook` receives it and decides how
 * it runs: tracers name the ONNX nodes after the node, use the layer's native lowering, or swap in
 * state inputs; everything else calls `forward()`.
 */
export interface NodeCall {
  readonly node: GraphNode;
  readonly inputs: Readonly<Record<string, Tensor>>;
  readonly params: Readonly<Record<string, Tensor>>;
  readonly ctx: LayerContext;
  /** Run the layer's forward (with another context, e.g. swapped-in state, when given). */
  forward(ctx?: LayerContext): LayerResult;
  /** The layer's native ONNX lowering, when it has one (`hasOnnxLowering`). */
  readonly lowerOnnx?: (b: OnnxBuilder, ctx?: LayerContext) => LayerResult;
}

/**
 * Runs every node of a runtime's waves in place of the layer's plain `forward` (RuntimeOptions.nodeHook).
 *
 *   const hook: NodeHook = (call) => { trace.scope = call.node.name; return call.forward(); };
 */
export type NodeHook = (call: NodeCall) => LayerResult;

/** Gradients a custom backward returns: per input port and per parameter. */
export interface LayerGradients {
  readonly inputs: Readonly<Record<string, Tensor | undefined>>;
  readonly params: Readonly<Record<string, Tensor | undefined>>;
}

export interface LayerClass<C extends object = object> {
  readonly kind: string;
  new (config: C): Layer<C>;
}

export abstract class Layer<C extends object = object> {
  /** The serialization key; every concrete layer class sets it. */
  static readonly kind: string;

  constructor(readonly config: C) {}

  get kind(): string {
    return (this.constructor as unknown as LayerClass).kind;
  }

  /** Input ports in call order (`builder.node(name, layer, ...inputs)` wires them in this order). */
  abstract readonly inputs: readonly InputPortDecl[];

  /**
   * Output ports and parameters for the given input specs. Throw ShapeError/DTypeError (see
   * `expectPort`) when an input does not fit; the graph builder adds the node and producer names.
   */
  abstract signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature;

  /** The forward computation, with core ops. Inputs of unconnected optional ports are absent. */
  abstract forward(
    inputs: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    ctx: LayerContext,
  ): LayerResult;

  /**
   * Optional custom gradient. When absent, the runtime replays the tape recorded during forward.
   * `grads` holds the gradient of each output port that reached this node.
   */
  backward?(
    inputs: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
    outputs: Readonly<Record<string, Tensor>>,
    grads: Readonly<Record<string, Tensor>>,
  ): LayerGradients;

  /** The config as JSON (checkpoints store kind + config). */
  toJSON(): { kind: string; config: C } {
    return { kind: this.kind, config: this.config };
  }
}

/**
 * Check an input spec against an expected dtype and shape pattern; `null` in the pattern matches
 * any dim, and a leading '...' matches any number of leading dims.
 *
 *   expectPort('x', spec, 'float32', ['...', 256])
 */
export function expectPort(
  port: string,
  spec: TensorSpec | undefined,
  dtype: DType | readonly DType[],
  pattern?: readonly (Dim | null | '...')[],
): TensorSpec {
  if (!spec) throw new ShapeError(`input "${port}" is not connected`);
  const dtypes = typeof dtype === 'string' ? [dtype] : dtype;
  if (!dtypes.includes(spec.dtype))
    throw new DTypeError(`input "${port}" has dtype ${spec.dtype}, expected ${dtypes.join(' or ')}`);
  if (!pattern) return spec;
  const rest = pattern[0] === '...';
  const pat = rest ? pattern.slice(1) : pattern;
  const shape = spec.shape;
  const describe = () => formatShape(pattern.map((d) => (d === null ? '?' : d)) as Shape);
  if (rest ? shape.length < pat.length : shape.length !== pat.length) {
    throw new ShapeError(`input "${port}" has shape ${formatShape(shape)}, expected ${describe()}`);
  }
  const offset = shape.length - pat.length;
  pat.forEach((d, i) => {
    if (d !== null && d !== '...' && !sameDim(d, shape[offset + i])) {
      throw new ShapeError(
        `input "${port}" has shape ${formatShape(shape)}, expected ${describe()} (dim ${offset + i} should be ${d})`,
      );
    }
  });
  return spec;
}

/** The last dim of a spec, which must be concrete (feature sizes). */
export function lastDim(port: string, spec: TensorSpec): number {
  const d = spec.shape[spec.shape.length - 1];
  if (typeof d !== 'number')
    throw new ShapeError(`input "${port}" has shape ${formatShape(spec.shape)}; its last dim must be a concrete size`);
  return d;
}
