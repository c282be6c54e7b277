// Every primitive of core's shared case table, exported as a one-node graph and run in
// onnxruntime, against the float64 reference backend; and the same for its gradient (the VJP rules
// trace into ONNX like any other ops). Opsets 17 and 26 cover both sides of the opset-18 change
// (reduce axes from attribute to input).
import {
  type Primitive,
  ReferenceBackend,
  type Tensor,
  apply,
  primitives,
  tensor,
  tidy,
  uniformValues,
  vjp,
  withBackend,
} from '@ganglion/core';
import { type InputSpec, type OpCase, inputValues, makeInput, maxRelError, opCases } from '@ganglion/core/testing';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { type FeedValue, runSession } from './ort-tensors.js';
import { TraceBackend } from './trace-backend.js';

const TOLERANCE = 1e-5;
const reference = new ReferenceBackend();

const applyCase = (c: OpCase, xs: readonly Tensor[]) =>
  apply(primitives[c.op] as unknown as Primitive<string, unknown>, xs, c.attrs);
const seedOf = (ci: number, i: number) => 1000 + 31 * ci + i;
const floatInputs = (c: OpCase) => c.inputs.flatMap((s, i) => ((s.dtype ?? 'float32') === 'float32' ? [i] : []));

function feedsOf(c: OpCase, ci: number): Record<string, FeedValue> {
  return Object.fromEntries(
    c.inputs.map((s, i) => [
      `x${i}`,
      { data: inputValues(s, seedOf(ci, i)), shape: s.shape, dtype: s.dtype ?? 'float32' },
    ]),
  );
}

function traceInputs(tb: TraceBackend, c: OpCase): Tensor[] {
  return c.inputs.map((s, i) => tb.input(`x${i}`, { shape: s.shape, dtype: s.dtype ?? 'float32' }));
}

const ints = (lo: number, hi: number, ...shape: number[]): InputSpec => ({
  shape,
  dtype: 'int32',
  fill: { ints: [lo, hi] },
});
const bools = (...shape: number[]): InputSpec => ({ shape, dtype: 'bool' });
const extra = (op: OpCase['op'], label: string, inputs: InputSpec[], attrs: object) =>
  ({ op, label, inputs, attrs }) as OpCase;

/** int32 and bool operands the shared table leaves out, where onnxruntime's kernels differ by type. */
const dtypeCases: readonly OpCase[] = [
  extra('ScatterAdd', 'int32 updates', [ints(0, 4, 6), ints(-5, 5, 6, 3)], { axis: 0, size: 4 }),
  extra('Clip', 'int32, fractional bounds', [ints(-9, 9, 3, 4)], { min: -2.5, max: 3.5 }),
  extra('Max', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Min', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Where', 'int32', [bools(3, 4), ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Where', 'bool', [bools(3, 4), bools(3, 4), bools(4)], {}),
  extra('Equal', 'bool', [bools(3, 4), bools(4)], {}),
  extra('ReduceMax', 'int32', [ints(-9, 9, 3, 4)], { axes: [1], keepdims: false }),
  extra('MatMul', 'int32', [ints(-3, 3, 3, 4), ints(-3, 3, 4, 2)], {}),
  extra('Pad', 'int32', [ints(-3, 3, 2, 2)], { pads: [1, 0, 0, 1], value: 7 }),
  extra('Pad', 'bool', [bools(2, 2)], { pads: [1, 0, 0, 1], value: 1 }),
  extra('Expand', 'bool', [bools(3, 1)], { shape: [2, 3, 4] }),
  extra('Gather', 'bool', [bools(5, 3), ints(0, 5, 4)], { axis: 0 }),
  extra('Concat', 'bool', [bools(2, 3), bools(2, 1)], { axis: 1 }),
  extra('Transpose', 'bool', [bools(2, 3)], { perm: [1, 0] }),
  extra('Slice', 'bool', [bools(4, 3)], { starts: [1], ends: [3], axes: [0] }),
  extra('Neg', 'int32', [ints(-9, 9, 5)], {}),
  extra('Sign', 'int32', [ints(-9, 9, 5)], {}),
  extra('Cast', 'bool to int32', [bools(5)], { to: 'int32' }),
  extra('Cast', 'int32 to bool', [ints(-2, 2, 5)], { to: 'bool' }),
  extra('Less', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Greater', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Mul', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('Sub', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], {}),
  extra('ReduceSum', 'int32, all kept', [ints(-9, 9, 3, 4)], { keepdims: true }),
  extra('ReduceSum', 'no axes', [{ shape: [3, 4] }], { axes: [], keepdims: false }),
  extra('Reshape', 'bool', [bools(2, 3)], { shape: [3, 2] }),
  extra('Reshape', 'empty', [{ shape: [0, 3] }], { shape: [3, 0] }),
];

describe.each([17, 26])('every primitive exports and runs in onnxruntime (opset %i)', (opset) => {
  it.each([...opCases, ...dtypeCases].map((c, ci) => [`${c.op} (${c.label})`, c, ci] as const))(
    '%s',
    async (_, c, ci) => {
      const tb = new TraceBackend({ opset });
      tb.output(
        'y',
        withBackend(tb, () => applyCase(c, traceInputs(tb, c))),
      );
      const session = await ort.InferenceSession.create(tb.toModel());
      const { y } = await runSession(session, feedsOf(c, ci));
      const expected = withBackend(reference, () =>
        tidy(() => {
          const out = applyCase(
            c,
            c.inputs.map((s, i) => makeInput(s, seedOf(ci, i), reference)),
          );
          return { shape: out.shape, dtype: out.dtype, values: out.toArray() };
        }),
      );
      expect(y.shape).toEqual(expected.shape);
      expect(y.dtype).toBe(expected.dtype);
      expect(maxRelError(Array.from(y.data), expected.values)).toBeLessThan(TOLERANCE);
      await session.release();
    },
  );
});

describe('gradients export too (VJP of every differentiable case, opset 17)', () => {
  const differentiable = opCases
    .map((c, ci) => [`${c.op} (${c.label})`, c, ci] as const)
    .filter(([, c]) => primitives[c.op].vjp !== null && floatInputs(c).length > 0);
  it.each(differentiable)('%s', async (_, c, ci) => {
    const wrt = floatInputs(c);
    const grads = (xs: Tensor[], dy: Tensor) => {
      const f = (...ws: Tensor[]) =>
        applyCase(
          c,
          xs.map((x, i) => (wrt.includes(i) ? ws[wrt.indexOf(i)] : x)),
        );
      return vjp(
        f,
        wrt.map((i) => xs[i]),
        dy,
      ).grads;
    };
    const outShape = withBackend(reference, () =>
      tidy(
        () =>
          applyCase(
            c,
            c.inputs.map((s, i) => makeInput(s, seedOf(ci, i), reference)),
          ).shape,
      ),
    ) as number[];
    const n = outShape.reduce((a, b) => a * b, 1);
    const dyValues = uniformValues(7 + ci, n, -1, 1).map(Math.fround);

    const tb = new TraceBackend({ opset: 17 });
    const traced = grads(traceInputs(tb, c), tb.input('dy', { shape: outShape, dtype: 'float32' }));
    traced.forEach((g, k) => tb.output(`g${k}`, g));
    const session = await ort.InferenceSession.create(tb.toModel());
    const got = await runSession(session, { ...feedsOf(c, ci), dy: { data: dyValues, shape: outShape } });

    const expected = withBackend(reference, () =>
      tidy(() =>
        grads(
          c.inputs.map((s, i) => makeInput(s, seedOf(ci, i), reference)),
          tensor(dyValues, outShape, 'float32', reference),
        ).map((g) => g.toArray()),
      ),
    );
    expected.forEach((e, k) => expect(maxRelError(Array.from(got[`g${k}`].data), e)).toBeLessThan(TOLERANCE));
    await session.release();
  });
});
