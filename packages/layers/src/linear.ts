// The affine map the transformer layers share: y = x @ weightᵀ + bias, with weight stored
// [out, in] as torch.nn.Linear's (so PyTorch weights load without a transpose), and the
// PyTorch-style parameter specs that go with it.
import type { Initializer, ParamSpec, Tensor } from '@ganglion/core';
import { add, matMul, reshape, sizeOf, transpose } from '@ganglion/core';

/**
 * torch.nn.functional.linear: x [..., in] @ weightᵀ [in, out] (+ bias [out]).
 *
 *   linear(x, p.out_proj_weight, p.out_proj_bias)   // [batch, time, dim]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const [out, inFeatures] = weight.shape as number[];
  const rows = sizeOf(x.shape.slice(0, -1));
  // NOTE: x @ Wᵀ costs a transpose of W (out · in numbers) each call. With few rows — one token
  // per wave when generating — (W @ xᵀ)ᵀ moves fewer (a transpose of a single row is a Reshape),
  // which on tfjs-cpu is most of a generation step. Where transposes fold into the product
  // (onnxruntime), x @ Wᵀ moves nothing, and the backward keeps x instead of a transposed copy.
  const weightTransposeIsCheaper = typeof rows !== 'number' || rows * (inFeatures + out) >= out * inFeatures;
  if (weightTransposeIsCheaper || x.backend.capabilities?.foldsTranspose)
    return rowsTimes(x, transpose(weight, [1, 0]), bias);
  const flip = (t: Tensor) => (rows === 1 ? reshape(t, [t.shape[1], t.shape[0]]) : transpose(t, [1, 0]));
  const y = flip(matMul(weight, flip(reshape(x, [rows, inFeatures]))));
  return reshape(bias ? add(y, bias) : y, [...x.shape.slice(0, -1), out]);
}

/**
 * x [..., in] @ w [in, out] (+ bias) as one 2-D product over all rows: the leading dims are
 * flattened first. NOTE: the same maths as a broadcast batched MatMul, but tfjs-wasm runs a 2-D
 * MatMul ~10x faster than a batched one (measured [16, 128, 128] @ [128, 512]: 20 ms vs 200 ms),
 * and the weight's gradient then is one 2-D product too instead of a batched one plus a sum.
 */
export function rowsTimes(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const rows = lead.length === 1 ? x : reshape(x, [sizeOf(lead), x.shape[x.rank - 1]]);
  const y = matMul(rows, w);
  const out = bias ? add(y, bias) : y;
  return lead.length === 1 ? out : reshape(out, [...lead, w.shape[1]]);
}

/** torch.nn.Linear's default weight init: U(-1/√in, 1/√in). */
export function linearInit(inFeatures: number): Initializer {
  const k = 1 / Math.sqrt(inFeatures);
  return { kind: 'uniform', low: -k, high: k };
}

/** Parameter specs of a sub-layer, renamed `<prefix>.<name>` for a composite layer. */
export function prefixParams(prefix: string, specs: readonly ParamSpec[]): ParamSpec[] {
  return specs.map((s) => ({ ...s, name: `${prefix}.${s.name}` }));
}

/** The parameters of a composite layer that belong to sub-layer `prefix`, with the prefix removed. */
export function subParams(prefix: string, params: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const start = `${prefix}.`;
  for (const [k, v] of Object.entries(params)) if (k.startsWith(start)) out[k.slice(start.length)] = v;
  return out;
}
