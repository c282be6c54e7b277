// The parity suite shared by parity.cpu.test.ts and parity.wasm.test.ts: every case of core's op
// table, forward and gradient, on tfjs against the float64 reference backend. It is one module
// taking the flavor because tfjs's active backend is global, so each flavor runs in its own test
// file (vitest gives each file its own process with pool 'forks').
import * as tf from '@tensorflow/tfjs';
import {
  type AttrsOf,
  type OpName,
  type Primitive,
  ReferenceBackend,
  type Tensor,
  UnsupportedOpError,
  apply,
  gather,
  mul,
  primitives,
  reduceSum,
  tensor,
  tidy,
  uniformValues,
  valueAndGrad,
  vjp,
  withBackend,
} from '@ganglion/core';
import { type InputSpec, type OpCase, makeInput, maxRelError, opCases } from '@ganglion/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfjsLowerings } from './lowerings.js';
import { TfjsBackend, type TfjsFlavor } from './tfjs-backend.js';

const TOLERANCE = 1e-5;

interface Outcome {
  readonly shape: readonly unknown[];
  readonly dtype: string;
  readonly values: number[];
}

function applyCase(c: OpCase, inputs: readonly Tensor[]): Tensor {
  return apply(primitives[c.op] as unknown as Primitive<string, unknown>, inputs, c.attrs);
}

/** Inputs of a case: the same seeds give the same (float32-rounded) values on every backend. */
function caseInputs(c: OpCase, caseIndex: number, backend: ReferenceBackend | TfjsBackend): Tensor[] {
  return c.inputs.map((spec, i) => makeInput(spec, 1000 + 31 * caseIndex + i, backend));
}

function forward(c: OpCase, caseIndex: number, backend: ReferenceBackend | TfjsBackend): Outcome {
  return withBackend(backend, () =>
    tidy(() => {
      const y = applyCase(c, caseInputs(c, caseIndex, backend));
      return { shape: y.shape, dtype: y.dtype, values: y.toArray() };
    }),
  );
}

/** Indices of the inputs a gradient is taken for: float inputs not marked noGrad. */
function gradInputs(c: OpCase): number[] {
  return c.inputs.flatMap((s, i) => ((s.dtype ?? 'float32') === 'float32' && !s.noGrad ? [i] : []));
}

/** Gradients of <dy, op(inputs)> for the float inputs, with a fixed random dy. */
function gradients(c: OpCase, caseIndex: number, backend: ReferenceBackend | TfjsBackend): number[][] {
  const wrt = gradInputs(c);
  return withBackend(backend, () =>
    tidy(() => {
      const inputs = caseInputs(c, caseIndex, backend);
      const f = (...xs: Tensor[]) => {
        const all = [...inputs];
        wrt.forEach((j, k) => (all[j] = xs[k]));
        return applyCase(c, all);
      };
      const shape = tidy(() => applyCase(c, inputs).shape) as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const dy = tensor(uniformValues(7 + caseIndex, n, -1, 1).map(Math.fround), shape, 'float32', backend);
      const { grads } = vjp(
        f,
        wrt.map((j) => inputs[j]),
        dy,
      );
      return grads.map((g) => g.toArray());
    }),
  );
}

const ints = (lo: number, hi: number, ...shape: number[]): InputSpec => ({
  shape,
  dtype: 'int32',
  fill: { ints: [lo, hi] },
});
const bools = (...shape: number[]): InputSpec => ({ shape, dtype: 'bool' });
const none = {} as Record<string, never>;
const extra = <K extends OpName>(op: K, label: string, inputs: readonly InputSpec[], attrs: AttrsOf<K>) =>
  ({ op, label, inputs, attrs }) as OpCase;

/**
 * Core's table is mostly float32 and ordinary shapes; these add the int32 and bool inputs the
 * primitives also accept, where tfjs kernels are most likely to differ (wasm's BatchMatMul is
 * float32-only, its Select and ClipByValue ignore the dtype), and shapes where tfjs takes shortcuts.
 */
const extraCases: readonly OpCase[] = [
  extra('Neg', 'int32', [ints(-9, 9, 5)], none),
  extra('Sign', 'int32', [ints(-3, 3, 7)], none),
  extra('Sub', 'int32', [ints(-9, 9, 2, 3), ints(-9, 9, 3)], none),
  extra('Mul', 'int32', [ints(-9, 9, 2, 3), ints(-9, 9, 2, 1)], none),
  extra(
    'Div',
    'int32 negative divisors',
    [ints(-20, 20, 3, 4), { shape: [4], dtype: 'int32', fill: { values: [-3, -1, 2, 5] } }],
    none,
  ),
  extra('Max', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 4)], none),
  extra('Min', 'int32', [ints(-9, 9, 3, 4), ints(-9, 9, 3, 1)], none),
  extra('Clip', 'int32', [ints(-9, 9, 3, 4)], { min: -2, max: 5 }),
  extra('ReduceMax', 'int32', [ints(-9, 9, 3, 4)], { axes: [1], keepdims: true }),
  extra('ReduceSum', 'int32 all', [ints(-9, 9, 3, 4)], { keepdims: false }),
  extra('MatMul', 'int32', [ints(-9, 9, 2, 3, 4), ints(-9, 9, 4, 5)], none),
  extra('Equal', 'bool', [bools(3, 4), bools(4)], none),
  extra('Greater', 'int32', [ints(0, 3, 3, 4), ints(0, 3, 3, 1)], none),
  extra('Less', 'bool', [bools(2, 3), bools(2, 3)], none),
  extra('Where', 'int32', [bools(2, 3), ints(-9, 9, 2, 3), ints(-9, 9, 3)], none),
  extra('Where', 'bool', [bools(2, 3), bools(2, 3), bools(1)], none),
  extra('Reshape', 'bool', [bools(2, 3)], { shape: [3, 2] }),
  extra('Transpose', 'int32', [ints(-9, 9, 2, 3, 4)], { perm: [1, 2, 0] }),
  extra('Concat', 'bool', [bools(2, 1), bools(2, 3)], { axis: 1 }),
  extra('Slice', 'bool', [bools(3, 4)], { starts: [1, 0], ends: [3, 3] }),
  extra('Transpose', 'bool', [bools(2, 3)], { perm: [1, 0] }),
  extra('Pad', 'bool', [bools(2, 2)], { pads: [1, 0, 0, 1], value: 1 }),
  extra('MatMul', 'int32 broadcast batch', [ints(-9, 9, 2, 1, 3, 4), ints(-9, 9, 3, 4, 2)], none),
  extra('Slice', 'int32', [ints(-9, 9, 4, 5)], { starts: [1], ends: [3], axes: [1] }),
  extra('Pad', 'int32', [ints(-9, 9, 2, 3)], { pads: [0, 1, 1, 0], value: 7 }),
  extra('Expand', 'bool', [bools(3, 1)], { shape: [3, 4] }),
  extra('Gather', 'int32 data', [ints(-9, 9, 4, 3), ints(0, 3, 5)], { axis: 1 }),
  extra('Gather', 'bool data', [bools(4, 3), ints(0, 4, 2, 2)], { axis: 0 }),
  extra('ScatterAdd', 'int32 updates', [ints(0, 3, 5), ints(-9, 9, 2, 5)], { axis: 1, size: 3 }),
  extra('Cast', 'int32 to bool', [ints(-2, 2, 6)], { to: 'bool' }),
  extra('Cast', 'bool to float', [bools(6)], { to: 'float32' }),
  extra('Cast', 'bool to int32', [bools(6)], { to: 'int32' }),
  extra('ScatterAdd', 'scalar index', [{ shape: [], dtype: 'int32', fill: { values: [2] } }, { shape: [3] }], {
    axis: 0,
    size: 4,
  }),
  extra('ScatterAdd', 'no indices', [{ shape: [0], dtype: 'int32', fill: { values: [] } }, { shape: [2, 0] }], {
    axis: 1,
    size: 3,
  }),
  extra('Gather', 'scalar index', [{ shape: [4, 3] }, { shape: [], dtype: 'int32', fill: { values: [2] } }], {
    axis: 0,
  }),
  extra('ReduceSum', 'no axes', [{ shape: [2, 3] }], { axes: [], keepdims: false }),
  extra('Concat', 'one input', [{ shape: [2, 3] }], { axis: 0 }),
  extra('Transpose', 'vector', [{ shape: [3] }], { perm: [0] }),
  extra(
    'Where',
    'scalar condition',
    [{ shape: [], dtype: 'bool', fill: { values: [1] } }, { shape: [2] }, { shape: [] }],
    none,
  ),
  extra('Cast', 'large float to int32', [{ shape: [4], fill: { values: [123456.75, -98765.5, 16777215, -0.25] } }], {
    to: 'int32',
  }),
];

const hasGradient = (c: OpCase) => primitives[c.op].vjp !== null && gradInputs(c).length > 0;

export function paritySuite(flavor: TfjsFlavor): void {
  const reference = new ReferenceBackend();
  let backend: TfjsBackend;
  // The worst error seen per op, printed once at the end as a record of how close tfjs gets.
  const worst = new Map<string, number>();
  const note = (op: OpName, err: number) => worst.set(op, Math.max(worst.get(op) ?? 0, err));

  beforeAll(async () => {
    backend = await TfjsBackend.create(flavor);
  });

  afterAll(() => {
    const rows = [...worst].map(([op, err]) => `${op}=${err.toExponential(1)}`);
    // A vitest suite factory: this summary line is test output, not library output.
    // eslint-disable-next-line no-console
    console.log(`tfjs-${flavor} worst parity error per op (forward and gradients): ${rows.join(' ')}`);
  });

  const cases = [...opCases, ...extraCases].map((c, i) => [`${c.op} ${c.label}`, c, i] as const);

  describe(`tfjs-${flavor} forward parity with the reference backend`, () => {
    it.each(cases)('%s', (_, c, i) => {
      const before = backend.numTensors();
      if (!backend.supports(c.op)) {
        // Only wasm may lack kernels; cpu has them all.
        expect(flavor).toBe('wasm');
        expect(() => forward(c, i, backend)).toThrow(UnsupportedOpError);
        expect(() => forward(c, i, backend)).toThrow(new RegExp(`^${c.op}: `));
        return;
      }
      const want = forward(c, i, reference);
      const got = forward(c, i, backend);
      expect(got.shape).toEqual(want.shape);
      expect(got.dtype).toBe(want.dtype);
      const err = maxRelError(got.values, want.values);
      note(c.op, err);
      expect(err, `values ${got.values} vs ${want.values}`).toBeLessThan(TOLERANCE);
      expect(backend.numTensors(), 'tfjs tensors leaked by the lowering').toBe(before);
    });
  });

  describe(`tfjs-${flavor} gradient parity with the reference backend`, () => {
    it.each(cases.filter(([, c]) => hasGradient(c)))('%s', (_, c, i) => {
      if (!backend.supports(c.op)) return; // the forward test asserts the error
      const want = gradients(c, i, reference);
      const got = gradients(c, i, backend);
      expect(got.length).toBe(want.length);
      got.forEach((g, k) => {
        const err = maxRelError(g, want[k]);
        note(c.op, err);
        expect(err, `gradient ${k}: ${g} vs ${want[k]}`).toBeLessThan(TOLERANCE);
      });
    });
  });

  describe(`tfjs-${flavor} lowering kernel lists`, () => {
    // `supports` trusts each lowering's kernel list, so it must name every kernel tfjs runs.
    it.each(cases)('%s declares every kernel it runs', async (_, c, i) => {
      if (!backend.supports(c.op)) return; // nothing runs
      const inputs = caseInputs(c, i, backend);
      const profile = await tf.profile(() => {
        withBackend(backend, () => tidy(() => applyCase(c, inputs)));
      });
      for (const t of inputs) t.dispose();
      const declared = new Set(tfjsLowerings[c.op].kernels);
      expect(profile.kernelNames.filter((k) => !declared.has(k))).toEqual([]);
    });
  });

  describe(`tfjs-${flavor} embedding gradient`, () => {
    it('runs Gather and its gradient ScatterAdd, summing repeated ids', () => {
      expect(backend.supports('Gather')).toBe(true);
      expect(backend.supports('ScatterAdd')).toBe(true);
      const run = (b: ReferenceBackend | TfjsBackend) =>
        withBackend(b, () =>
          tidy(() => {
            const table = tensor(uniformValues(3, 5 * 4, -1, 1).map(Math.fround), [5, 4], 'float32', b);
            const ids = tensor([1, 3, 1, 0, 1, 4], [2, 3], 'int32', b);
            const w = tensor(uniformValues(4, 2 * 3 * 4, -1, 1).map(Math.fround), [2, 3, 4], 'float32', b);
            const { value, grads } = valueAndGrad((t: Tensor) => reduceSum(mul(gather(t, ids, 0), w)))(table);
            return { value: value.item(), grad: grads[0].toArray() };
          }),
        );
      const want = run(reference);
      const got = run(backend);
      expect(Math.abs(got.value - want.value)).toBeLessThan(TOLERANCE * Math.max(1, Math.abs(want.value)));
      expect(maxRelError(got.grad, want.grad)).toBeLessThan(TOLERANCE);
      // Row 2 is never looked up, so its gradient is exactly zero.
      expect(got.grad.slice(8, 12)).toEqual([0, 0, 0, 0]);
    });
  });
}
