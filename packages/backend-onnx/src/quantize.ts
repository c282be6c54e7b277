// quantizeModel: smaller weights for deployment, as one pass over an exported ModelProto. Weight
// matrices become int8 with a float32 scale per output channel (symmetric, zero point 0) read back
// by a `DequantizeLinear` node: the weight-only QDQ form, which onnxruntime (level 'extended' and
// up) folds with the MatMul into MatMulNBits. Other large float tensors can be stored as float16
// and widened by a `Cast`. Either way the node that read the float32 initializer now reads a node
// output of the same name, so the graph, its compute dtype (float32) and every consumer stay as
// they were, and the plain and stateful exports go through the same pass.
//
// Which tensors are weights is read from the graph: an initializer that reaches a 2-D MatMul or
// Gemm operand, the data of a Gather (an embedding table), or a 3-D LSTM/GRU/RNN W or R input,
// through Identity, Transpose, Slice, Gather by constant indices (gate reordering) and Reshapes
// that only add or drop unit dims. The output channel is the consumer's output-feature axis mapped
// back through those nodes: a tied embedding read by Gather and, transposed, by the head's MatMul
// has one (its rows), so it is stored once.
import { ExportError } from '@ganglion/core';
import {
  ElemType,
  type IModelProto,
  type INodeProto,
  type ITensorProto,
  attributeProto,
  onnx,
  tensorValues,
  toNumber,
} from './proto.js';

const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
/** TensorProto.DataLocation.EXTERNAL: values in another file, which this pass does not read. */
const EXTERNAL = 1;

/** Metadata key naming how a model's weights are stored (`int8`, `float16`, `int8+float16`). */
export const WEIGHTS_METADATA_KEY = 'ganglion.weights';

/** How an export stores its weights; the default (neither) keeps every tensor float32. */
export interface WeightStorage {
  /** 'int8': weight matrices and embedding tables as int8 with a float32 scale per output channel. */
  readonly quantize?: 'int8';
  /** 'float16': large float tensors (not taken by `quantize`) stored as float16, computed in float32. */
  readonly dtype?: 'float32' | 'float16';
}

export interface QuantizeOptions extends WeightStorage {
  /** Only these initializers may become int8 (an export passes its parameters); default: any weight. */
  readonly quantizable?: ReadonlySet<string>;
  /** Tensors with fewer elements stay float32 (biases, norms, small tables). Default 1024. */
  readonly minElements?: number;
}

export interface QuantizedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** The axis that has one scale per index (the output channel). */
  readonly axis: number;
}

export interface WeightStorageReport {
  readonly int8: readonly QuantizedTensor[];
  readonly float16: readonly string[];
  /** Tensors left float32 for float16 because a value is beyond float16's range (|x| >= 65520, or not finite). */
  readonly outOfFloat16Range: readonly string[];
  /** The model's size before the pass (its float32 export) and after, in bytes. */
  readonly float32Bytes: number;
  readonly bytes: number;
}

/** Default smallest tensor stored in a narrower type. */
const MIN_ELEMENTS = 1024;

/**
 * Store a model's weights as int8 and/or float16: the new ModelProto bytes and what was converted.
 *
 *   const { bytes, report } = quantizeModel(exportOnnx(graph, params), { quantize: 'int8' });
 */
export function quantizeModel(
  bytes: Uint8Array,
  options: QuantizeOptions,
): { bytes: Uint8Array; report: WeightStorageReport } {
  checkWeightStorage(options);
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new ExportError('quantizeModel: the model has no graph');
  const minElements = options.minElements ?? MIN_ELEMENTS;
  const opset = toNumber((model.opsetImport ?? []).find((o) => !o.domain)?.version);
  if (options.quantize === 'int8' && opset < 13)
    throw new ExportError(
      `quantize int8: the model imports opset ${opset}; per-channel DequantizeLinear needs opset 13 or later`,
    );

  const nodes = graph.node ?? [];
  const initializers = graph.initializer ?? [];
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const names = new Names(model);
  const byName = new Map(initializers.map((t) => [t.name ?? '', t]));
  const storable = (t: ITensorProto) =>
    t.dataType === ElemType.FLOAT &&
    t.dataLocation !== EXTERNAL &&
    !graphInputs.has(t.name ?? '') &&
    (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1) >= minElements;

  const kept: ITensorProto[] = [];
  const added: ITensorProto[] = [];
  const decoders: INodeProto[] = [];
  const int8: QuantizedTensor[] = [];
  const float16: string[] = [];
  const outOfRange: string[] = [];
  const uses = consumers(nodes);
  for (const t of initializers) {
    const name = t.name ?? '';
    const dims = (t.dims ?? []).map(toNumber);
    const axis =
      options.quantize === 'int8' && storable(t) && (options.quantizable?.has(name) ?? true)
        ? weightAxis(name, uses, byName)
        : undefined;
    if (axis !== undefined) {
      const { values, scales } = quantizePerChannel(tensorValues(t).values, dims, axis);
      const q = names.fresh(`${name}_quantized`);
      const s = names.fresh(`${name}_scale`);
      const z = names.fresh(`${name}_zero_point`);
      added.push(
        { name: q, dataType: ElemType.INT8, dims, rawData: bytesOf(values) },
        { name: s, dataType: ElemType.FLOAT, dims: [dims[axis]], rawData: bytesOf(scales) },
        { name: z, dataType: ElemType.INT8, dims: [dims[axis]], rawData: new Uint8Array(dims[axis]) },
      );
      decoders.push({
        name: names.fresh(`${name}/DequantizeLinear`),
        opType: 'DequantizeLinear',
        input: [q, s, z],
        output: [name],
        attribute: [attributeProto('axis', { type: 'int', value: axis })],
      });
      int8.push({ name, dims, axis });
    } else if (options.dtype === 'float16' && storable(t)) {
      const values = tensorValues(t).values;
      if (!values.every((v) => Math.abs(v) < FLOAT16_OVERFLOW)) {
        outOfRange.push(name);
        kept.push(t);
        continue;
      }
      const half = names.fresh(`${name}_float16`);
      added.push({ name: half, dataType: FLOAT16, dims, rawData: bytesOf(Uint16Array.from(values, float16Bits)) });
      decoders.push({
        name: names.fresh(`${name}/Cast`),
        opType: 'Cast',
        input: [half],
        output: [name],
        attribute: [attributeProto('to', { type: 'int', value: ElemType.FLOAT })],
      });
      float16.push(name);
    } else {
      kept.push(t);
    }
  }
  graph.initializer = [...kept, ...added];
  // The decoders read only initializers, so they go first and the node list stays topologically sorted.
  graph.node = [...decoders, ...nodes];
  const storage = [int8.length > 0 ? 'int8' : '', float16.length > 0 ? 'float16' : ''].filter(Boolean).join('+');
  if (storage) {
    const meta = (model.metadataProps ?? []).filter((p) => p.key !== WEIGHTS_METADATA_KEY);
    model.metadataProps = [...meta, { key: WEIGHTS_METADATA_KEY, value: storage }];
  }
  const encoded = onnx.ModelProto.encode(model).finish();
  const out = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  return {
    bytes: out,
    report: { int8, float16, outOfFloat16Range: outOfRange, float32Bytes: bytes.byteLength, bytes: out.byteLength },
  };
}

/** Refuse a storage option a caller (a JS one, or a config file) spelled wrong. */
export function checkWeightStorage(s: WeightStorage): void {
  if (s.quantize !== undefined && s.quantize !== 'int8')
    throw new ExportError(
      `options.quantize is ${JSON.stringify(s.quantize)}; expected "int8" (or leave it out for float weights)`,
    );
  if (s.dtype !== undefined && s.dtype !== 'float32' && s.dtype !== 'float16')
    throw new ExportError(`options.dtype is ${JSON.stringify(s.dtype)}; expected "float32" or "float16"`);
}

/**
 * Symmetric per-channel int8: for each index c of `axis`, scale[c] = max|w| / 127 (1 for an all-zero
 * channel) as float32, and q = round(w / scale[c]) (half to even, as QuantizeLinear), in [-127, 127].
 *
 *   const { values, scales } = quantizePerChannel(w, [out, in], 0);   // w ≈ values[i] * scales[row]
 */
export function quantizePerChannel(
  w: ArrayLike<number>,
  dims: readonly number[],
  axis: number,
): { values: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channel = (i: number) => Math.floor(i / inner) % channels;
  const max = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) max[channel(i)] = Math.max(max[channel(i)], Math.abs(w[i]));
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / 127 : 1));
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++)
    values[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i] / scales[channel(i)])));
  return { values, scales };
}

/** Beyond this magnitude a value rounds to float16 infinity (65504 plus half its ulp). */
const FLOAT16_OVERFLOW = 65520;

/**
 * The IEEE binary16 bits of `x`, rounded to nearest, ties to even (subnormals included; ±Infinity
 * past 65504; NaN as 0x7e00).
 *
 *   float16Bits(1 / 3) === 0x3555
 */
export function float16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= FLOAT16_OVERFLOW) return sign | 0x7c00;
  // Subnormals are whole multiples of 2^-24 (a result of 1024 is the smallest normal, 0x0400).
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // 1024..2048 (exact: scaling by a power of two); 2048 carries into the exponent by the addition.
  const m = roundHalfEven((a / 2 ** e) * 1024);
  return sign | (((e + 15) << 10) + m - 1024);
}

/** The value of binary16 bits. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1024 + m) * 2 ** (e - 25);
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

type Uses = Map<string, { node: INodeProto; index: number }[]>;

function consumers(nodes: readonly INodeProto[]): Uses {
  const uses: Uses = new Map();
  for (const node of nodes)
    (node.input ?? []).forEach((v, index) => {
      if (!v) return;
      if (!uses.has(v)) uses.set(v, []);
      uses.get(v)!.push({ node, index });
    });
  return uses;
}

function intAttr(node: INodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a ? toNumber(a.i) : fallback;
}

/**
 * The output-channel axis of initializer `name` when it is a weight (see the file header), else
 * undefined. A matrix product or recurrent cell decides over an embedding Gather when both read it.
 */
function weightAxis(name: string, uses: Uses, initializers: ReadonlyMap<string, ITensorProto>): number | undefined {
  const dims = (initializers.get(name)!.dims ?? []).map(toNumber);
  const constant = (value: string | undefined) => {
    const t = initializers.get(value ?? '');
    return t ? tensorValues(t) : undefined;
  };
  let product: number | undefined;
  let gather: number | undefined;
  const found = (axis: number | undefined, into: 'product' | 'gather') => {
    if (axis === undefined || axis < 0) return;
    if (into === 'product') product ??= axis;
    else gather ??= axis;
  };
  // `axes[k]`: the initializer axis that axis k of `value` is (-1: a unit axis a Reshape added);
  // `shape`: its dims, while they are known.
  const visit = (value: string, axes: readonly number[], shape: readonly number[] | undefined, depth: number) => {
    if (depth > 16) return;
    const rank = axes.length;
    for (const { node, index } of uses.get(value) ?? []) {
      const op = node.domain ? '' : node.opType;
      const out = node.output?.[0];
      if (op === 'MatMul' && rank === 2) found(axes[index === 1 ? 1 : 0], 'product');
      else if (op === 'Gemm' && rank === 2 && index < 2) {
        const transposed = intAttr(node, index === 0 ? 'transA' : 'transB', 0) !== 0;
        found(axes[(index === 0) === transposed ? 1 : 0], 'product');
      } else if ((op === 'LSTM' || op === 'GRU' || op === 'RNN') && rank === 3 && (index === 1 || index === 2))
        found(axes[1], 'product');
      else if (op === 'Gather' && index === 0) {
        const a = intAttr(node, 'axis', 0);
        const axis = a < 0 ? a + rank : a;
        found(axes[axis], 'gather');
        // Constant indices (a gate reordering) pick rows: the channels go on.
        const indices = constant(node.input?.[1]);
        if (out && indices && indices.dims.length <= 1) {
          const keep = indices.dims.length === 1;
          const next = (xs: readonly number[], v: number) =>
            keep ? xs.map((x, k) => (k === axis ? v : x)) : xs.filter((_, k) => k !== axis);
          visit(out, next(axes, axes[axis]), shape && next(shape, indices.dims[0]), depth + 1);
        }
      } else if (!out) continue;
      else if (op === 'Identity') visit(out, axes, shape, depth + 1);
      else if (op === 'Slice' && index === 0) visit(out, axes, undefined, depth + 1);
      else if (op === 'Transpose') {
        const given = (node.attribute ?? []).find((x) => x.name === 'perm')?.ints?.map(toNumber);
        const perm = given && given.length === rank ? given : axes.map((_, k) => rank - 1 - k);
        visit(
          out,
          perm.map((p) => axes[p]),
          shape && perm.map((p) => shape[p]),
          depth + 1,
        );
      } else if (op === 'Reshape' && index === 0 && shape) {
        const target = constant(node.input?.[1]);
        const reshaped = target && unitReshape(shape, axes, Array.from(target.values), intAttr(node, 'allowzero', 0));
        if (reshaped) visit(out, reshaped.axes, reshaped.shape, depth + 1);
      }
    }
  };
  visit(
    name,
    dims.map((_, k) => k),
    dims,
    0,
  );
  return product ?? gather;
}

/**
 * A Reshape that only adds or drops unit dims ([256, 16] -> [1, 256, 16]): the new shape and which
 * axis each dim is; undefined for any other reshape.
 */
function unitReshape(
  shape: readonly number[],
  axes: readonly number[],
  target: readonly number[],
  allowZero: number,
): { shape: number[]; axes: number[] } | undefined {
  const size = shape.reduce((a, b) => a * b, 1);
  const copied = target.map((d, k) => (d === 0 && allowZero === 0 ? shape[k] : d));
  const known = copied.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const dims = copied.map((d) => (d === -1 ? size / known : d));
  const big = (xs: readonly number[]) => xs.filter((d) => d !== 1);
  const from = big(shape);
  const to = big(dims);
  if (from.length !== to.length || from.some((d, k) => d !== to[k])) return undefined;
  const bigAxes = axes.filter((_, k) => shape[k] !== 1);
  let next = 0;
  return { shape: dims, axes: dims.map((d) => (d === 1 ? -1 : bigAxes[next++])) };
}

/** Fresh value and node names in a model (new initializers and nodes must not shadow any). */
class Names {
  private readonly used = new Set<string>();
  constructor(model: IModelProto) {
    const g = model.graph!;
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) this.used.add(v.name ?? '');
    for (const t of g.initializer ?? []) this.used.add(t.name ?? '');
    for (const n of g.node ?? []) for (const x of [n.name, ...(n.output ?? [])]) this.used.add(x ?? '');
  }
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}
