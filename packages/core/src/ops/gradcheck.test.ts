// VJP of every differentiable primitive against float64 central finite differences along a random
// direction, on the reference backend, driven by the shared op case table.
import { describe, expect, test } from 'vitest';
import { apply, withBackend } from '../engine.js';
import { ReferenceBackend } from '../reference/reference-backend.js';
import { checkGradients, makeInput, opCases } from '../testing/index.js';
import type { Tensor } from '../tensor.js';
import type { Primitive } from './primitive.js';
import { OP_NAMES, primitives } from './registry.js';

const backend = new ReferenceBackend();
const differentiable = OP_NAMES.filter((op) => primitives[op].vjp !== null);

function floatInputs(inputs: (typeof opCases)[number]['inputs']): number[] {
  return inputs.flatMap((s, i) => ((s.dtype ?? 'float32') === 'float32' && !s.noGrad ? [i] : []));
}

describe('gradient checks (reference backend, float64)', () => {
  // Cases whose output is float and that have a float input to differentiate.
  const cases = opCases.filter((c) => {
    const specs = c.inputs.map((s) => ({ shape: s.shape, dtype: s.dtype ?? 'float32' }));
    const outDType = (primitives[c.op].dtype as (i: typeof specs, a: unknown) => string)(specs, c.attrs);
    return primitives[c.op].vjp !== null && outDType === 'float32' && floatInputs(c.inputs).length > 0;
  });
  test.each(cases.map((c, i) => [`${c.op}: ${c.label}`, c, i] as const))('%s', (_, c, i) => {
    withBackend(backend, () => {
      const xs = c.inputs.map((s, k) => makeInput(s, 1000 * i + k, backend));
      const fn = (...args: Tensor[]) => apply(primitives[c.op] as Primitive<string, unknown>, args, c.attrs);
      for (const r of checkGradients(fn, xs, floatInputs(c.inputs), i + 1)) {
        // The check means something only if the directional derivative is not ~0.
        expect(Math.abs(r.numeric), `input ${r.input}`).toBeGreaterThan(1e-4);
        expect(r.relError, `input ${r.input}: numeric ${r.numeric} vs analytic ${r.analytic}`).toBeLessThan(1e-6);
      }
    });
  });

  test('every differentiable primitive has a gradient-check case', () => {
    const covered = new Set(cases.map((c) => c.op));
    expect(differentiable.filter((op) => !covered.has(op))).toEqual([]);
  });

  test('every primitive has at least one case in the shared table', () => {
    const covered = new Set(opCases.map((c) => c.op));
    expect(OP_NAMES.filter((op) => !covered.has(op))).toEqual([]);
  });

  test('gradient checks cover broadcasting', () => {
    const broadcasting = cases.filter(
      (c) =>
        c.inputs.length >= 2 &&
        c.inputs.some(
          (s) => s.shape.length !== c.inputs[0].shape.length || s.shape.some((d, k) => d !== c.inputs[0].shape[k]),
        ),
    );
    expect(new Set(broadcasting.map((c) => c.op))).toEqual(
      new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Where', 'MatMul', 'Concat', 'Gather', 'ScatterAdd']),
    );
  });
});
