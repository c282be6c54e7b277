// ONNX ops back to Ganglion primitives: what OnnxModel runs. Each entry computes one ONNX node with
// core ops, so it runs synchronously on any backend and differentiates like any other layer code.
// Shapes are concrete here (this runs at forward time), so shape inputs (Reshape's shape, Slice's
// bounds) are read as values. ONNX int64 maps to int32 and double to float32. Each entry also says
// which inputs a gradient flows back to (`grads`): a trainable OnnxModel makes parameters only of
// initializers that reach the output through those.
import {
  type DType,
  GraphError,
  type RecurrentCell,
  type Tensor,
  abs,
  add,
  broadcastShapes,
  cast,
  clip,
  concat,
  div,
  equal,
  erf,
  exp,
  expand,
  fill,
  fromOnnxRecurrentWeights,
  gather,
  greater,
  less,
  log,
  logSoftmax,
  matMul,
  max,
  min,
  mul,
  neg,
  pad,
  pow,
  randomNormal,
  randomUniform,
  reduceMax,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  scalar,
  scatterAdd,
  sigmoid,
  sign,
  slice,
  softmax,
  sqrt,
  sub,
  tanh,
  tensor,
  transpose,
  unrollRecurrent,
  where,
} from '@ganglion/core';
import { type AttributeValue, ElemType, type ITensorProto, tensorValues } from '../proto.js';

export type Attrs = Readonly<Record<string, AttributeValue>>;

export interface OpContext {
  readonly node: string;
  /** The model's opset for the default domain. */
  readonly opset: number;
  /** Values of a (small) input, read on the host: shapes, axes, bounds. */
  values(t: Tensor): number[];
}

export interface OnnxOp {
  /** Inputs read as values (shapes, axes, bounds) rather than used as tensors. */
  readonly hostInputs?: readonly number[];
  /** Inputs the gradient flows back to ('all' for variadic ops); absent: none (comparisons, Shape). */
  readonly grads?: readonly number[] | 'all' | ((attrs: Attrs) => readonly number[]);
  readonly run: (inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: OpContext) => (Tensor | undefined)[];
}

export function dtypeOfElem(elemType: number, what: string): DType {
  switch (elemType) {
    case ElemType.FLOAT:
    case ElemType.DOUBLE:
      return 'float32';
    case ElemType.INT32:
    case ElemType.INT64:
    case ElemType.INT8:
    case ElemType.UINT8:
      return 'int32';
    case ElemType.BOOL:
      return 'bool';
    default:
      throw new GraphError(
        `${what}: ONNX element type ${elemType} has no Ganglion dtype (float, double, int8/32/64, uint8, bool do)`,
      );
  }
}

/** A TensorProto (initializer, Constant's value) as a tensor on the current backend. */
export function tensorFromProto(t: ITensorProto, what: string): Tensor {
  const { elemType, dims, values } = tensorValues(t);
  return tensor(values, dims, dtypeOfElem(elemType, what));
}

const unsupported = (ctx: OpContext, what: string): never => {
  throw new GraphError(`ONNX node "${ctx.node}": ${what} is not supported`);
};

const int = (a: Attrs, k: string, d: number) => (a[k] === undefined ? d : (a[k] as number));
const str = (a: Attrs, k: string, d: string) => (a[k] === undefined ? d : (a[k] as string));
const unary = (f: (x: Tensor) => Tensor): OnnxOp => ({ grads: [0], run: ([x]) => [f(x!)] });
const binary = (f: (a: Tensor, b: Tensor) => Tensor): OnnxOp => ({ grads: [0, 1], run: ([a, b]) => [f(a!, b!)] });
/** Comparisons and logic: bool outputs, no gradient. */
const predicate = (f: (a: Tensor, b: Tensor) => Tensor): OnnxOp => ({ run: ([a, b]) => [f(a!, b!)] });
/** Max/Min/Sum take any number of inputs. */
const variadic = (f: (a: Tensor, b: Tensor) => Tensor): OnnxOp => ({
  grads: 'all',
  run: (ins) => [(ins as Tensor[]).reduce((a, b) => f(a, b))],
});

function reduceOp(
  f: (x: Tensor, axes: number[] | undefined, keepdims: boolean) => Tensor,
  axesInputSince: number,
): OnnxOp {
  return {
    hostInputs: [1],
    grads: [0],
    run: ([x, axesT], a, ctx) => {
      const keepdims = int(a, 'keepdims', 1) === 1;
      const axes =
        ctx.opset >= axesInputSince ? (axesT ? ctx.values(axesT) : undefined) : (a.axes as number[] | undefined);
      if (axes !== undefined && axes.length === 0)
        return [int(a, 'noop_with_empty_axes', 0) ? x : f(x!, undefined, keepdims)];
      return [f(x!, axes, keepdims)];
    },
  };
}

/** ONNX Reshape's shape: 0 copies the input dim (unless allowzero), -1 is inferred. */
function reshapeTarget(x: Tensor, shape: number[], allowzero: boolean): number[] {
  return shape.map((d, i) => (d === 0 && !allowzero ? (x.shape[i] as number) : d));
}

function squeezeShape(x: Tensor, axes: number[] | undefined): number[] {
  const dims = x.shape as number[];
  const drop = new Set(
    (axes ?? dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + dims.length : a)),
  );
  return dims.filter((_, i) => !drop.has(i));
}

function unsqueezeShape(x: Tensor, axes: number[]): number[] {
  const rank = x.rank + axes.length;
  const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : (x.shape[k++] as number));
  return out;
}

/**
 * ONNX LSTM / GRU (layout 0, default activations, no clip; forward, reverse or bidirectional; with
 * or without sequence_lens; GRU either linear_before_reset), unrolled with core's unrollRecurrent.
 */
function recurrent(
  cell: RecurrentCell,
  [x, w, r, b, seqLens, ...rest]: readonly (Tensor | undefined)[],
  a: Attrs,
  ctx: OpContext,
): (Tensor | undefined)[] {
  const op = cell.toUpperCase();
  const states = cell === 'lstm' ? ['h', 'c'] : ['h'];
  if (cell === 'lstm' && rest[2]) unsupported(ctx, 'LSTM with peepholes');
  const direction = str(a, 'direction', 'forward');
  if (
    !['forward', 'reverse', 'bidirectional'].includes(direction) ||
    int(a, 'layout', 0) !== 0 ||
    a.activations ||
    a.clip ||
    int(a, 'input_forget', 0)
  ) {
    unsupported(ctx, `${op} other than layout 0, default activations, no clip`);
  }
  const H = a.hidden_size as number;
  const [T, B] = x!.shape as number[];
  const D = direction === 'bidirectional' ? 2 : 1;
  const G = cell === 'lstm' ? 4 : 3;
  // sequence_lens [B] as a mask [B, T]: step t of sequence b is real when t < lens[b].
  const mask =
    seqLens &&
    cast(
      greater(
        reshape(cast(seqLens, 'float32'), [B, 1]),
        tensor(
          Array.from({ length: T }, (_, t) => t),
          [1, T],
          'float32',
          x!.backend,
        ),
      ),
      'float32',
    );
  const of = (t: Tensor | undefined, d: number, shape: number[]) =>
    t && reshape(D === 1 ? t : slice(t, [d], [d + 1], [0]), shape);
  const runs = Array.from({ length: D }, (_, d) => {
    const weights = fromOnnxRecurrentWeights(
      cell,
      H,
      of(w, d, [1, G * H, w!.shape[2] as number])!,
      of(r, d, [1, G * H, H])!,
      of(b, d, [1, 2 * G * H]),
    );
    const start = Object.fromEntries(states.map((s, i) => [s, of(rest[i], d, [B, H]) ?? zeroState(x!, B, H)]));
    return unrollRecurrent(cell, x!, weights, start, {
      timeAxis: 0,
      ...(mask ? { mask } : {}),
      ...(direction === 'reverse' || d === 1 ? { reverse: true } : {}),
      ...(cell === 'gru' ? { linearBeforeReset: int(a, 'linear_before_reset', 0) === 1 } : {}),
    });
  });
  // Y [T, D, B, H]; each final state [D, B, H].
  const y =
    T > 0
      ? concat(
          Array.from({ length: T }, (_, t) =>
            concat(
              runs.map((run) => reshape(run.steps[t], [1, 1, B, H])),
              1,
            ),
          ),
          0,
        )
      : fill([0, D, B, H], 0);
  return [
    y,
    ...states.map((s) =>
      concat(
        runs.map((run) => reshape(run.state[s], [1, B, H])),
        0,
      ),
    ),
  ];
}

const zeroState = (x: Tensor, B: number, H: number) => expand(scalar(0, 'float32', x.backend), [B, H]);

/** Elementwise a && b of two bool tensors (as 0/1 ints: both set). */
function and(a: Tensor, b: Tensor): Tensor {
  return equal(add(cast(a, 'int32'), cast(b, 'int32')), 2);
}

export const onnxOps: Readonly<Record<string, OnnxOp>> = {
  Abs: unary(abs),
  Add: binary(add),
  And: predicate(and),
  Cast: {
    grads: (a) => (dtypeOfElem(a.to as number, 'Cast') === 'float32' ? [0] : []),
    run: ([x], a, ctx) => [cast(x!, dtypeOfElem(a.to as number, `node "${ctx.node}"`))],
  },
  Clip: {
    hostInputs: [1, 2],
    grads: [0],
    run: ([x, lo, hi], _a, ctx) => {
      const limit = x!.dtype === 'int32' ? 2 ** 31 - 1 : 3.4e38;
      return [clip(x!, lo ? ctx.values(lo)[0] : -limit, hi ? ctx.values(hi)[0] : limit)];
    },
  },
  Concat: { grads: 'all', run: (ins, a) => [concat(ins as Tensor[], a.axis as number)] },
  Constant: {
    run: (_, a, ctx) => {
      if (a.value !== undefined) return [tensorFromProto(a.value as ITensorProto, `node "${ctx.node}"`)];
      if (a.value_float !== undefined) return [scalar(a.value_float as number)];
      if (a.value_int !== undefined) return [scalar(a.value_int as number, 'int32')];
      if (a.value_floats !== undefined) return [tensor(a.value_floats as number[])];
      if (a.value_ints !== undefined) return [tensor(a.value_ints as number[], undefined, 'int32')];
      return unsupported(ctx, 'a Constant without a numeric value');
    },
  },
  ConstantOfShape: {
    hostInputs: [0],
    run: ([shape], a, ctx) => {
      const v = a.value ? tensorValues(a.value as ITensorProto) : { elemType: ElemType.FLOAT, values: [0] };
      return [fill(ctx.values(shape!), v.values[0], dtypeOfElem(v.elemType, `node "${ctx.node}"`))];
    },
  },
  Div: binary(div),
  Dropout: { grads: [0], run: ([x]) => [x, undefined] },
  Equal: predicate(equal),
  Erf: unary(erf),
  Exp: unary(exp),
  Expand: {
    hostInputs: [1],
    grads: [0],
    run: ([x, shape], _a, ctx) => [expand(x!, broadcastShapes('Expand', x!.shape, ctx.values(shape!)))],
  },
  Flatten: {
    grads: [0],
    run: ([x], a) => {
      const axis = int(a, 'axis', 1);
      const dims = x!.shape as number[];
      const k = axis < 0 ? axis + dims.length : axis;
      return [reshape(x!, [dims.slice(0, k).reduce((p, d) => p * d, 1), dims.slice(k).reduce((p, d) => p * d, 1)])];
    },
  },
  Gather: {
    grads: [0],
    run: ([data, indices], a) => {
      const axis = int(a, 'axis', 0);
      return [gather(data!, indices!, axis < 0 ? axis + data!.rank : axis)];
    },
  },
  Gemm: {
    grads: [0, 1, 2],
    run: ([A, B, C], a) => {
      const at = int(a, 'transA', 0) ? transpose(A!) : A!;
      const bt = int(a, 'transB', 0) ? transpose(B!) : B!;
      const alpha = a.alpha === undefined ? 1 : (a.alpha as number);
      const beta = a.beta === undefined ? 1 : (a.beta as number);
      let y = matMul(at, bt);
      if (alpha !== 1) y = mul(y, alpha);
      if (C) y = add(y, beta === 1 ? C : mul(C, beta));
      return [y];
    },
  },
  Greater: predicate(greater),
  GreaterOrEqual: predicate((a, b) => equal(cast(less(a, b), 'int32'), 0)),
  GRU: { grads: [0, 1, 2, 3, 5], run: (inputs, a, ctx) => recurrent('gru', inputs, a, ctx) },
  Identity: { grads: [0], run: ([x]) => [x] },
  LayerNormalization: {
    grads: [0, 1, 2],
    run: ([x, scale, bias], a, ctx) => {
      const axis = int(a, 'axis', -1);
      if (axis !== -1 && axis !== x!.rank - 1) unsupported(ctx, 'LayerNormalization over more than the last axis');
      const eps = a.epsilon === undefined ? 1e-5 : (a.epsilon as number);
      const centered = sub(x!, reduceMean(x!, -1, true));
      const normed = div(centered, sqrt(add(reduceMean(mul(centered, centered), -1, true), eps)));
      const y = mul(normed, scale!);
      return [bias ? add(y, bias) : y, undefined, undefined];
    },
  },
  Less: predicate(less),
  Log: unary(log),
  LogSoftmax: { grads: [0], run: ([x], a) => [logSoftmax(x!, int(a, 'axis', -1))] },
  LSTM: { grads: [0, 1, 2, 3, 5, 6], run: (inputs, a, ctx) => recurrent('lstm', inputs, a, ctx) },
  MatMul: binary(matMul),
  Max: variadic(max),
  Min: variadic(min),
  Mul: binary(mul),
  Neg: unary(neg),
  Pad: {
    hostInputs: [1, 2, 3],
    grads: [0],
    run: ([x, pads, value, axes], a, ctx) => {
      if (str(a, 'mode', 'constant') !== 'constant' || axes)
        unsupported(ctx, 'Pad other than mode "constant" over all axes');
      return [pad(x!, ctx.values(pads!), value ? ctx.values(value)[0] : 0)];
    },
  },
  Pow: binary(pow),
  RandomNormal: {
    run: (_, a) => [
      randomNormal(
        a.shape as number[],
        Math.trunc((a.seed as number | undefined) ?? 0),
        (a.mean as number | undefined) ?? 0,
        (a.scale as number | undefined) ?? 1,
      ),
    ],
  },
  RandomUniform: {
    run: (_, a) => [
      randomUniform(
        a.shape as number[],
        Math.trunc((a.seed as number | undefined) ?? 0),
        (a.low as number | undefined) ?? 0,
        (a.high as number | undefined) ?? 1,
      ),
    ],
  },
  ReduceMax: reduceOp(reduceMax, 18),
  ReduceMean: reduceOp(reduceMean, 18),
  ReduceSum: reduceOp(reduceSum, 13),
  Range: {
    hostInputs: [0, 1, 2],
    run: ([start, limit, delta], _a, ctx) => {
      const [s0, l0, d0] = [start!, limit!, delta!].map((t) => ctx.values(t)[0]);
      if (d0 === 0) unsupported(ctx, 'Range with delta 0');
      const n = Math.max(Math.ceil((l0 - s0) / d0), 0);
      return [
        tensor(
          Array.from({ length: n }, (_, k) => s0 + k * d0),
          [n],
          start!.dtype,
        ),
      ];
    },
  },
  Relu: unary(relu),
  Reshape: {
    hostInputs: [1],
    grads: [0],
    run: ([x, shape], a, ctx) => [reshape(x!, reshapeTarget(x!, ctx.values(shape!), int(a, 'allowzero', 0) === 1))],
  },
  ScatterND: {
    grads: [0, 2],
    run: ([data, indices, updates], a, ctx) => {
      if (str(a, 'reduction', 'none') !== 'add' || indices!.shape[indices!.rank - 1] !== 1)
        unsupported(ctx, 'ScatterND other than reduction "add" with 1-element index tuples');
      const idx = reshape(indices!, indices!.shape.slice(0, -1));
      return [add(data!, scatterAdd(idx, updates!, 0, data!.shape[0]))];
    },
  },
  Shape: {
    run: ([x], a) => {
      const dims = x!.shape as number[];
      const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + dims.length : v, 0), dims.length);
      return [
        tensor(dims.slice(clampAxis(int(a, 'start', 0)), clampAxis(int(a, 'end', dims.length))), undefined, 'int32'),
      ];
    },
  },
  Sigmoid: unary(sigmoid),
  Sign: { run: ([x]) => [sign(x!)] },
  Slice: {
    hostInputs: [1, 2, 3, 4],
    grads: [0],
    run: ([x, starts, ends, axes, steps], _a, ctx) => {
      if (steps && ctx.values(steps).some((s) => s !== 1)) unsupported(ctx, 'Slice with steps other than 1');
      return [slice(x!, ctx.values(starts!), ctx.values(ends!), axes ? ctx.values(axes) : undefined)];
    },
  },
  Softmax: { grads: [0], run: ([x], a) => [softmax(x!, int(a, 'axis', -1))] },
  Sqrt: unary(sqrt),
  Squeeze: {
    hostInputs: [1],
    grads: [0],
    run: ([x, axes], a, ctx) => [
      reshape(x!, squeezeShape(x!, axes ? ctx.values(axes) : (a.axes as number[] | undefined))),
    ],
  },
  Sub: binary(sub),
  Sum: variadic(add),
  Tanh: unary(tanh),
  Transpose: { grads: [0], run: ([x], a) => [transpose(x!, a.perm as number[] | undefined)] },
  Unsqueeze: {
    hostInputs: [1],
    grads: [0],
    run: ([x, axes], a, ctx) => [reshape(x!, unsqueezeShape(x!, axes ? ctx.values(axes) : (a.axes as number[])))],
  },
  Where: { grads: [1, 2], run: ([c, x, y]) => [where(c!, x!, y!)] },
};
