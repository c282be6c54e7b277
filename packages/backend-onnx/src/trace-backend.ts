// TraceBackend: the backend named 'trace'. Its tensors are symbolic ONNX values; running a primitive
// on them emits ONNX nodes through the lowering table (lowerings.ts), constants become
// initializers, and symbolic dims stay symbolic (its capabilities say it takes symbolic shapes). It also
// implements core's OnnxBuilder, the door native lowerings (LSTM -> ONNX LSTM) emit nodes through.
//
//   const tb = new TraceBackend({ opset: 17 });
//   const x = tb.input('x', { shape: ['batch', 4], dtype: 'float32' });
//   tb.output('y', relu(x));
//   const bytes = tb.toModel();
import {
  type AttrsOf,
  type Backend,
  type DType,
  type LoweringTable,
  type OnnxAttribute,
  type OnnxBuilder,
  type OnnxElementwiseOp,
  type OpName,
  type Operand,
  type Tensor,
  type TensorData,
  type TensorSpec,
  ExportError,
  broadcastShapes,
  formatShape,
  gather,
  keep,
  makeTensor,
  staticSize,
} from '@ganglion/core';
import { onnxLowerings } from './lowerings.js';
import { OnnxGraph } from './onnx-graph.js';
import { ElemType, elemTypeOf } from './proto.js';
import { ShapeTensors, shapeAttrs } from './shape-tensors.js';

/** A trace tensor's handle: the name of the ONNX value it stands for. */
export interface TraceValue {
  readonly name: string;
}

export const MIN_OPSET = 17;
export const MAX_OPSET = 26;

/** The lowest IR version that carries each opset (all load in onnxruntime-node 1.30). */
export function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset === 23) return 11;
  if (opset <= 25) return 12;
  return 13;
}

export function checkOpset(opset: unknown): number {
  if (typeof opset !== 'number' || !Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ExportError(
      `opset ${String(opset)} is not supported: expected an integer from ${MIN_OPSET} to ${MAX_OPSET}`,
    );
  }
  return opset;
}

export interface TraceOptions {
  /** Target opset, 17..26. Default 17. */
  readonly opset?: number;
  /**
   * How RandomUniform/RandomNormal are written. 'constant' (default): the values core's seeded
   * generator gives (shapes and seeds are fixed at trace time), so the model computes exactly what
   * the framework does. 'onnx': ONNX RandomUniform/RandomNormal nodes with the seed attribute
   * (onnxruntime draws other numbers from the same distribution).
   */
  readonly random?: 'constant' | 'onnx';
  /**
   * Positions that table-based lowerings (RoPE's cos/sin, sinusoidal position tables) cover, as
   * Hugging Face's `max_position_embeddings`. Default 4096.
   */
  readonly maxPositions?: number;
  /**
   * How `positionRows` tables are written. 'table' (default): the table for positions
   * 0 .. maxPositions - 1 as a constant, gathered at the wave's positions. 'input': the wave's rows
   * as a model input `position_rows.<key>` [1, time, width], computed by the caller (the runner) for
   * its stream position; the model then has no position limit and no table that grows with it.
   */
  readonly positionRows?: 'table' | 'input';
}

/** A position table the caller feeds (`positionRows: 'input'`): its input, width and rows. */
export interface PositionRowsInput {
  readonly input: string;
  /** [1, time, width]. */
  readonly shape: readonly (number | string)[];
  readonly width: number;
  readonly rows: (start: number, count: number) => Float64Array;
}

/** The stateful export's input of token positions, int32 [batch, time]. */
export const POSITION_IDS = 'position_ids';

export interface ModelOptions {
  readonly graphName?: string;
  readonly docString?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export class TraceBackend implements Backend<TraceValue>, OnnxBuilder {
  readonly name = 'trace';
  readonly capabilities = { symbolicShapes: true, foldsTranspose: true } as const;
  readonly opset: number;
  readonly random: 'constant' | 'onnx';
  readonly maxPositions: number;
  readonly positionRowsMode: 'table' | 'input';
  /** The tables fed as inputs (`positionRows: 'input'`), by input name. */
  readonly positionRowsInputs = new Map<string, PositionRowsInput>();
  private readonly positionTables = new Map<string, Tensor>();
  /**
   * Set by the exporter for a stateful export: `positions()` then reads the `position_ids` input
   * (the stream position is only known when the model runs).
   */
  stateful = false;
  private positionsByTime = new Map<string, Tensor>();
  readonly graph = new OnnxGraph();
  readonly shapes = new ShapeTensors(this.graph);
  private readonly lowerings: LoweringTable<TraceValue>;
  /** Values known at trace time (constants, parameters), so reading them back works. */
  private readonly known = new Map<string, ArrayLike<number>>();
  /** Set by the exporter: the Ganglion node being traced, with its kind, for messages. */
  current?: { readonly node: string; readonly kind: string };

  constructor(options: TraceOptions = {}) {
    this.opset = checkOpset(options.opset ?? MIN_OPSET);
    this.random = options.random ?? 'constant';
    const maxPositions = options.maxPositions ?? 4096;
    if (!Number.isInteger(maxPositions) || maxPositions < 1)
      throw new ExportError(`maxPositions must be a positive integer, got ${String(maxPositions)}`);
    this.maxPositions = maxPositions;
    this.positionRowsMode = options.positionRows ?? 'table';
    this.lowerings = onnxLowerings(this);
  }

  // ---- the Backend interface ----

  fromValues(values: ArrayLike<number>, spec: TensorSpec): TraceValue {
    const dims = spec.shape as number[];
    const name = this.graph.constant(values, elemTypeOf(spec.dtype), dims);
    this.known.set(name, values);
    return { name };
  }

  readSync(handle: TraceValue, spec: TensorSpec): TensorData {
    const values = this.known.get(handle.name);
    if (values) return Float64Array.from(values);
    // Inside a node, the exporter prefixes the node's name and kind.
    throw new ExportError(
      `${this.current ? 'it' : 'the traced function'} reads the values of ${formatShape(spec.shape)} ${spec.dtype} tensor "${handle.name}" while tracing: data-dependent computation (host-side math, control flow on values) cannot be captured in an ONNX graph`,
    );
  }

  dispose(): void {
    // Trace values live in the ONNX graph; nothing to free.
  }

  execute<K extends OpName>(
    op: K,
    inputs: readonly Operand<TraceValue>[],
    attrs: AttrsOf<K>,
    out: TensorSpec,
  ): TraceValue {
    for (const x of inputs) this.checkHandle(x.handle, op);
    const lowering = this.lowerings[op] as
      { run: (i: readonly Operand<TraceValue>[], a: unknown, o: TensorSpec) => TraceValue } | undefined;
    if (!lowering) {
      // Only a primitive defined outside core's registry can get here (the table is exhaustive).
      throw new ExportError(
        `primitive "${String(op)}"${this.graph.scope ? ` in node "${this.graph.scope}"` : ''} has no ONNX lowering; add one to the onnx backend's lowering table`,
      );
    }
    return lowering.run(inputs, attrs, out);
  }

  supports(): boolean {
    return true;
  }

  numTensors(): number {
    return 0;
  }

  // ---- building a model ----

  /** A graph input of `spec`; its symbolic dims become dim_params and can be read back in the graph. */
  input(name: string, spec: TensorSpec): Tensor {
    this.graph.addInput(name, elemTypeOf(spec.dtype), spec.shape);
    this.shapes.bindInput(name, spec.shape);
    return makeTensor({ name } satisfies TraceValue, spec, this);
  }

  /** An initializer named `name` (parameters: `<node>.<param>`) holding `values`. */
  parameter(name: string, values: ArrayLike<number>, spec: TensorSpec): Tensor {
    const dims = spec.shape as number[];
    if (values.length !== staticSize(dims, `parameter "${name}"`)) {
      throw new ExportError(`parameter "${name}": ${values.length} values do not fill shape ${formatShape(dims)}`);
    }
    const unique = this.graph.initializer(name, values, elemTypeOf(spec.dtype), dims);
    this.known.set(unique, values);
    return makeTensor({ name: unique } satisfies TraceValue, spec, this);
  }

  /** Expose a trace tensor as graph output `name`. */
  output(name: string, t: Tensor): void {
    this.checkHandle(t.handle as TraceValue, `output "${name}"`);
    if (t.backend !== this)
      throw new ExportError(`output "${name}" is a tensor of backend "${t.backend.name}", not of this trace`);
    this.graph.addOutput(name, (t.handle as TraceValue).name, elemTypeOf(t.dtype), t.shape);
  }

  /** Prune what no output needs and serialize the ModelProto. */
  toModel(options: ModelOptions = {}): Uint8Array {
    const { values } = this.graph.neededValues(this.shapes.symbolNodeNames());
    this.shapes.rehome(
      (v) => values.has(v),
      (node, value, axis) => this.graph.rewire(node, [value], shapeAttrs(axis)),
    );
    this.graph.prune();
    return this.graph.toModel({
      opset: this.opset,
      irVersion: irVersionFor(this.opset),
      graphName: options.graphName ?? 'ganglion',
      docString: options.docString ?? '',
      metadata: options.metadata ?? {},
    });
  }

  // ---- OnnxBuilder: native lowerings ----

  op(
    opType: string,
    inputs: readonly (Tensor | undefined)[],
    attrs: Readonly<Record<string, OnnxAttribute>>,
    outputs: readonly TensorSpec[],
  ): Tensor[] {
    const names = inputs.map((t, i) => {
      if (t === undefined) return undefined;
      if (t.backend !== this)
        throw new ExportError(`${opType}: input ${i} is a tensor of backend "${t.backend.name}", not of this trace`);
      t.assertLive();
      return (t.handle as TraceValue).name;
    });
    const outs = this.graph.node(opType, names, attrs, outputs.length);
    return outs.map((name, i) => makeTensor({ name } satisfies TraceValue, outputs[i], this));
  }

  elementwise(opType: OnnxElementwiseOp, inputs: readonly Tensor[]): Tensor {
    const shape = inputs.map((t) => t.shape).reduce((a, s) => broadcastShapes(opType, a, s));
    const logical = opType === 'And' || opType === 'Or';
    const comparison = logical || ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'].includes(opType);
    const dtype = comparison ? 'bool' : inputs[opType === 'Where' ? 1 : 0].dtype;
    return this.op(opType, inputs, {}, [{ shape, dtype }])[0];
  }

  cast(x: Tensor, dtype: DType): Tensor {
    return this.op('Cast', [x], { to: { type: 'int', value: elemTypeOf(dtype) } }, [{ shape: x.shape, dtype }])[0];
  }

  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    const rank = x.rank + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    if (at.size !== axes.length || [...at].some((a) => a < 0 || a >= rank))
      throw new ExportError(`Unsqueeze: axes [${axes.join(', ')}] are not distinct axes of a rank-${rank} output`);
    const rest = [...x.shape];
    const shape = Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : rest.shift()!));
    return this.op('Unsqueeze', [x, this.int64(axes)], {}, [{ shape, dtype: x.dtype }])[0];
  }

  dim(x: Tensor, axis: number): Tensor {
    const d = x.shape[axis];
    if (typeof d === 'number')
      return makeTensor(this.fromValues([d], { shape: [], dtype: 'int32' }), { shape: [], dtype: 'int32' }, this);
    const [dim] = this.op(
      'Shape',
      [x],
      { start: { type: 'int', value: axis }, end: { type: 'int', value: axis + 1 } },
      [{ shape: [1], dtype: 'int32' }],
    );
    // Shape gives int64: squeezed to a scalar and cast to the int32 the tensor says it is.
    return this.cast(this.op('Squeeze', [dim, this.int64([0])], {}, [{ shape: [], dtype: 'int32' }])[0], 'int32');
  }

  positions(like: Tensor): Tensor {
    if (like.rank < 2)
      throw new ExportError(`positions: expected a [batch, time, ...] tensor, got shape ${formatShape(like.shape)}`);
    const [batch, time] = like.shape;
    const key = String(time);
    let p = this.positionsByTime.get(key);
    if (p) return p;
    if (this.stateful) {
      if (this.graph.inputNames().includes(POSITION_IDS))
        throw new ExportError(`positions: waves of different lengths (${String(time)}) in one stateful export`);
      p = this.input(POSITION_IDS, { shape: [batch, time], dtype: 'int32' });
    } else {
      // Range(0, time) as [1, time]: the time dim read off the graph (a constant when concrete).
      const scalarTime = this.node('Squeeze', [this.shapes.dim(time), this.graph.int64([0])]).name;
      const limit = this.node('Cast', [scalarTime], { to: { type: 'int', value: ElemType.INT32 } }).name;
      const range = this.node('Range', [this.scalar(0, ElemType.INT32), limit, this.scalar(1, ElemType.INT32)]).name;
      const row = this.node('Unsqueeze', [range, this.graph.int64([0])]).name;
      p = makeTensor({ name: row } satisfies TraceValue, { shape: [1, time], dtype: 'int32' }, this);
    }
    this.positionsByTime.set(key, p);
    return p;
  }

  positionRows(key: string, width: number, like: Tensor, rows: (start: number, count: number) => Float64Array): Tensor {
    const positions = this.positions(like);
    if (this.positionRowsMode === 'input') {
      const input = `position_rows.${key}`;
      const time = positions.shape[1];
      let t = this.positionTables.get(`${input}|${String(time)}`);
      if (!t) {
        t = this.input(input, { shape: [1, time, width], dtype: 'float32' });
        this.positionTables.set(`${input}|${String(time)}`, t);
        this.positionRowsInputs.set(input, { input, shape: [1, time, width], width, rows });
      }
      return t;
    }
    let table = this.positionTables.get(key);
    if (!table) {
      table = keep(
        makeTensor(
          this.fromValues(rows(0, this.maxPositions), { shape: [this.maxPositions, width], dtype: 'float32' }),
          { shape: [this.maxPositions, width], dtype: 'float32' },
          this,
        ),
      );
      this.positionTables.set(key, table);
    }
    return gather(table, positions, 0);
  }

  int64(values: readonly number[]): Tensor {
    return makeTensor(
      { name: this.graph.int64(values) } satisfies TraceValue,
      { shape: [values.length], dtype: 'int32' },
      this,
    );
  }

  /** Whether a lowering asked for positions (the model then covers positions < maxPositions). */
  get usesPositions(): boolean {
    return this.positionsByTime.size > 0;
  }

  /** The spec of the `position_ids` input, once a lowering asked for positions in a stateful export. */
  positionsSpec(): TensorSpec {
    const p = [...this.positionsByTime.values()][0];
    if (!p) throw new ExportError('no lowering asked for positions');
    return { shape: p.shape, dtype: p.dtype };
  }

  // ---- helpers for the lowering table ----

  /** Emit a single-output node. */
  node(
    opType: string,
    inputs: readonly (string | undefined)[],
    attrs: Readonly<Record<string, OnnxAttribute>> = {},
  ): TraceValue {
    return { name: this.graph.node(opType, inputs, attrs)[0] };
  }

  /** A scalar constant of an ONNX element type. */
  scalar(value: number, elemType: ElemType): string {
    return this.graph.constant([value], elemType, []);
  }

  /** Remember constant values computed at trace time (random tensors written as constants). */
  constantValue(values: ArrayLike<number>, spec: TensorSpec, base: string): TraceValue {
    const name = this.graph.initializer(base, values, elemTypeOf(spec.dtype), spec.shape as number[]);
    this.known.set(name, values);
    return { name };
  }

  private checkHandle(h: TraceValue | undefined, what: string): void {
    if (!h || typeof h.name !== 'string') throw new ExportError(`${what}: got a tensor that is not a trace value`);
  }
}

export { ElemType };
