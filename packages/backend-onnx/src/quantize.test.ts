// quantizeModel: per-channel int8 and float16 rounding against float64 computations made here, and
// exported models run in onnxruntime quantized vs float32: a Dense layer within the rounding bound
// its scales give, a small GPT (plain and stateful) and a char-LSTM within a tolerance derived from
// the scales, and the file size ratios.
import {
  ExportError,
  type Graph,
  GraphBuilder,
  ParamStore,
  ReferenceBackend,
  tensor,
  uniformValues,
} from '@ganglion/core';
import { Dense } from '@ganglion/layers';
import { afterAll, describe, expect, it } from 'vitest';
import { type ExportOptions, type ExportedModel, traceModel } from './export.js';
import { type ITensorProto, onnx, tensorValues } from './proto.js';
import * as ort from 'onnxruntime-node';
import { type FeedValue, runSession } from './ort-tensors.js';
import {
  type QuantizedTensor,
  WEIGHTS_METADATA_KEY,
  type WeightStorageReport,
  float16Bits,
  float16Value,
  quantizeModel,
  quantizePerChannel,
} from './quantize.js';
import { VOCAB, charModel, feedData, gptModel, maxAbsDiff } from './testing/graphs.js';

const reference = new ReferenceBackend();
const measured: string[] = [];
afterAll(() => console.log(`quantize:\n  ${measured.join('\n  ')}`));

/** Element (indices) of a row-major tensor. */
const at = (dims: readonly number[], idx: readonly number[]) => idx.reduce((flat, k, d) => flat * dims[d] + k, 0);

describe('quantizePerChannel', () => {
  it('rounds half to even with one scale per row (worked by hand)', () => {
    // Row 0: max 127 -> scale 1; row 1: max 254 -> scale 2. Ties: -63.5 -> -64, 2.5 -> 2, 0.5 -> 0, 1.5 -> 2, -2.5 -> -2.
    const { values, scales } = quantizePerChannel([127, -63.5, 2.5, 0, 254, 1, 3, -5], [2, 4], 0);
    expect([...scales]).toEqual([1, 2]);
    expect([...values]).toEqual([127, -64, 2, 0, 127, 0, 2, -2]);
    // Per column: maxima 254, 63.5, 3, 5.
    const cols = quantizePerChannel([127, -63.5, 2.5, 0, 254, 1, 3, -5], [2, 4], 1);
    expect([...cols.scales]).toEqual([254 / 127, 63.5 / 127, 3 / 127, 5 / 127].map(Math.fround));
  });

  it.each([
    ['[24, 40] by rows', [24, 40], 0],
    ['[24, 40] by columns', [24, 40], 1],
    ['[2, 12, 10] (LSTM W) by gate rows', [2, 12, 10], 1],
  ] as const)('%s: scale = max|w| / 127 per channel and |w - q s| <= s / 2, in float64', (_, dims, axis) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const w = Float32Array.from(uniformValues(5, n), (u, i) => (u * 2 - 1) * (1 + (i % 7)));
    // An all-zero channel: scale 1, every q 0.
    const zero = 3;
    // The channel maxima in float64, by walking every index tuple.
    const channels = dims[axis];
    const max = new Float64Array(channels);
    const each = (f: (idx: number[]) => void, d = 0, idx: number[] = []) => {
      if (d === dims.length) return f(idx);
      for (let k = 0; k < dims[d]; k++) each(f, d + 1, [...idx, k]);
    };
    each((idx) => {
      if (idx[axis] === zero) w[at(dims, idx)] = 0;
    });
    const q = quantizePerChannel(w, dims, axis);
    each((idx) => (max[idx[axis]] = Math.max(max[idx[axis]], Math.abs(w[at(dims, idx)]))));
    expect(q.scales.length).toBe(channels);
    for (let c = 0; c < channels; c++) {
      const expected = c === zero ? 1 : max[c] / 127;
      expect(Math.abs(q.scales[c] - expected) / expected, `scale ${c}`).toBeLessThan(2 ** -24);
    }
    let worst = 0;
    const reachesEnd = new Array<boolean>(channels).fill(false);
    each((idx) => {
      const i = at(dims, idx);
      const s = q.scales[idx[axis]];
      expect(Math.abs(q.values[i])).toBeLessThanOrEqual(127);
      worst = Math.max(worst, Math.abs(w[i] - q.values[i] * s) / s);
      if (Math.abs(q.values[i]) === 127) reachesEnd[idx[axis]] = true;
      if (idx[axis] === zero) expect(q.values[i]).toBe(0);
    });
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-6);
    expect(reachesEnd.filter((r, c) => !r && c !== zero)).toEqual([]);
    expect(q.values.length).toBe(n);
  });
});

describe('float16Bits', () => {
  it('gives the IEEE binary16 encodings of known values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [-1e6, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // a tie, to even (zero)
      [1.5 * 2 ** -24, 0x0002], // a tie, to even
      [1 + 2 ** -11, 0x3c00], // a tie between 1 and 1 + 2^-10, to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [Math.fround(0.1), 0x2e66],
    ];
    for (const [x, bits] of cases) expect(float16Bits(x), `float16Bits(${x})`).toBe(bits);
    expect(float16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('round-trips every finite binary16 value and rounds float32 values to the nearest one (ties to even)', () => {
    const lost: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++)
      if ((bits & 0x7c00) !== 0x7c00 && float16Bits(float16Value(bits)) !== bits) lost.push(bits);
    expect(lost).toEqual([]);
    const u = uniformValues(3, 20000);
    const wrong: string[] = [];
    for (let i = 0; i < u.length; i++) {
      const x = Math.fround((u[i] - 0.5) * 2 ** ((i % 40) - 26));
      const h = float16Bits(x);
      const err = Math.abs(float16Value(h) - x);
      for (const neighbour of [h - 1, h + 1]) {
        if ((neighbour & 0x7fff) > 0x7bff || (neighbour & 0x8000) !== (h & 0x8000)) continue;
        const other = Math.abs(float16Value(neighbour) - x);
        if (err > other || (err === other && h % 2 !== 0)) wrong.push(`${x} -> ${h.toString(16)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

function initializers(bytes: Uint8Array): Map<string, ITensorProto> {
  return new Map(onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => [t.name!, t]));
}

/** An int8 or float tensor's values (proto.ts reads no int8). */
function values(t: ITensorProto): Float64Array {
  if (t.dataType !== onnx.TensorProto.DataType.INT8) return Float64Array.from(tensorValues(t).values);
  return Float64Array.from(new Int8Array(Uint8Array.from(t.rawData!).buffer));
}

/**
 * Run a model in onnxruntime. At level 'all' (its default, and `ganglion run`'s) it folds
 * DequantizeLinear -> MatMul into MatMulNBits, which also rounds the activations to int8; 'basic'
 * runs the graph as written: float32 products of the dequantized weights.
 */
async function run(bytes: Uint8Array, feeds: Record<string, FeedValue>, level: 'basic' | 'all' = 'all') {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level });
  try {
    return await runSession(session, feeds);
  } finally {
    await session.release();
  }
}

/** For each int8 tensor of `bytes`: its dequantized values q * s in float64 (the channel read off `axis`). */
function dequantized(bytes: Uint8Array, tensors: readonly QuantizedTensor[]): Map<string, Float64Array> {
  const inits = initializers(bytes);
  const out = new Map<string, Float64Array>();
  for (const { name, dims, axis } of tensors) {
    const q = values(inits.get(`${name}_quantized`)!);
    const s = values(inits.get(`${name}_scale`)!);
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    out.set(
      name,
      q.map((v, i) => v * s[Math.floor(i / inner) % dims[axis]]),
    );
  }
  return out;
}

/** What a model stores for each converted tensor, in float64: q * s for int8, the float16 values. */
function storedValues(bytes: Uint8Array, report: WeightStorageReport): Map<string, Float64Array> {
  const out = dequantized(bytes, report.int8);
  const inits = initializers(bytes);
  for (const name of report.float16) {
    const raw = inits.get(`${name}_float16`)!.rawData!;
    out.set(name, Float64Array.from(new Uint16Array(Uint8Array.from(raw).buffer), float16Value));
  }
  return out;
}

/** The float32 values of the tensors named in `stored`, from the float32 export. */
function originalValues(float: Uint8Array, stored: ReadonlyMap<string, unknown>): Map<string, Float64Array> {
  const inits = initializers(float);
  return new Map([...stored.keys()].map((k) => [k, values(inits.get(k)!)]));
}

/** `params` with some tensors replaced by other values (same shapes). */
function withValues(graph: Graph, params: ParamStore, replaced: ReadonlyMap<string, ArrayLike<number>>): ParamStore {
  const out = ParamStore.initialize(graph, 0, reference);
  for (const k of params.keys()) {
    const p = params.get(k);
    out.set(k, tensor(replaced.get(k) ?? p.dataSync(), p.shape, p.dtype, reference));
  }
  return out;
}

/**
 * The logit tolerance the stored tensors give: each perturbs what it computes by its relative rms
 * error (rms|w - stored| / rms|w|), independent errors add in quadrature, and the largest of many
 * logits sits within 4 of those standard deviations: 4 rms(logits) sqrt(sum of squares).
 */
function tolerance(float: Uint8Array, quantized: ExportedModel, logits: ArrayLike<number>): number {
  const stored = storedValues(quantized.bytes, quantized.weights!);
  const original = originalValues(float, stored);
  let sum = 0;
  for (const [name, v] of stored) {
    const w = original.get(name)!;
    let err = 0;
    let norm = 0;
    for (let i = 0; i < w.length; i++) {
      err += (w[i] - v[i]) ** 2;
      norm += w[i] ** 2;
    }
    sum += err / norm;
  }
  return 4 * rms(logits) * Math.sqrt(sum);
}

const rms = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((m, v) => m + v * v, 0) / a.length);
const fmt = (x: number) => x.toExponential(2);

describe('a Dense layer, int8', () => {
  it('computes x @ (q s) + b, within sum_i |x_i| s_j / 2 of the float32 layer', async () => {
    const g = new GraphBuilder();
    g.output('y', g.node('dense', new Dense({ units: 48 }), g.input('x', ['batch', 32])));
    const graph = g.build();
    const params = ParamStore.initialize(graph, 4, reference);
    const float = traceModel(graph, params);
    const int8 = traceModel(graph, params, { quantize: 'int8' });
    const weight = [...params.keys()].find((k) => params.get(k).rank === 2)!;
    expect(int8.weights!.int8.map((t) => t.name)).toEqual([weight]);
    const inits = initializers(int8.bytes);
    expect(inits.has(weight)).toBe(false);
    expect(inits.get(`${weight}_quantized`)!.dataType).toBe(onnx.TensorProto.DataType.INT8);
    const dims = params.get(weight).shape as number[];
    const axis = dims.indexOf(48);
    expect(int8.weights!.int8[0].axis).toBe(axis);
    const q = values(inits.get(`${weight}_quantized`)!);
    const s = values(inits.get(`${weight}_scale`)!);
    const x = { data: Float32Array.from(uniformValues(8, 3 * 32), (u) => 4 * u - 2), shape: [3, 32] };
    const yf = (await run(float.bytes, { x }, 'basic')).y.data;
    const yq = (await run(int8.bytes, { x }, 'basic')).y.data;
    const bias = [...params.keys()].find((k) => k !== weight);
    const b = bias ? params.get(bias).dataSync() : new Float32Array(48);
    const w = (i: number, j: number) => (axis === 1 ? at(dims, [i, j]) : at(dims, [j, i]));
    let worstRef = 0;
    let worstBound = 0;
    for (let r = 0; r < 3; r++) {
      for (let j = 0; j < 48; j++) {
        let ref = b[j];
        let bound = 0;
        for (let i = 0; i < 32; i++) {
          const xi = x.data[r * 32 + i];
          ref += xi * q[w(i, j)] * s[j];
          bound += (Math.abs(xi) * s[j]) / 2;
        }
        worstRef = Math.max(worstRef, Math.abs(yq[r * 48 + j] - ref));
        worstBound = Math.max(worstBound, Math.abs(yq[r * 48 + j] - yf[r * 48 + j]) / bound);
      }
    }
    measured.push(
      `Dense 32->48: |int8 - float64 x(q s)+b| ${fmt(worstRef)}, |int8 - float32| / bound ${worstBound.toFixed(3)}`,
    );
    expect(worstRef).toBeLessThan(1e-5);
    expect(worstBound).toBeLessThanOrEqual(1 + 1e-4);
  });
});

describe('a GPT (dim 128, tied embedding), plain export', () => {
  const c = gptModel({ dim: 128, window: 4 });
  const params = ParamStore.initialize(c.graph, 11, reference);
  // Position tables for 64 positions, so the weights dominate the file.
  const opts: ExportOptions = { maxPositions: 64 };
  const float = traceModel(c.graph, params, opts);
  const { ids } = feedData(c.inputs, 2, 6, 21);
  const floatLogits = run(float.bytes, { ids }, 'basic').then((r) => r.logits.data);

  it('int8: every weight matrix once (the tied embedding too), by rows; logits within the scales', async () => {
    const int8 = traceModel(c.graph, params, { ...opts, quantize: 'int8' });
    const weights = [...params.keys()].filter((k) => params.get(k).rank === 2).sort();
    expect(int8.weights!.int8.map((t) => t.name).sort()).toEqual(weights);
    // Parameters are [out, in] and the embedding [vocab, dim]: one scale per row.
    expect(int8.weights!.int8.every((t) => t.axis === 0)).toBe(true);
    const model = onnx.ModelProto.decode(int8.bytes);
    const dq = model.graph!.node!.filter((n) => n.opType === 'DequantizeLinear');
    expect(dq.map((n) => n.output![0]).sort()).toEqual(weights);
    const types = new Map(model.graph!.initializer!.map((t) => [t.name!, t.dataType]));
    for (const k of params.keys()) {
      if (params.get(k).rank === 2) expect(types.get(`${k}_quantized`), k).toBe(onnx.TensorProto.DataType.INT8);
      else expect(types.get(k), `${k} stays float32`).toBe(onnx.TensorProto.DataType.FLOAT);
    }
    expect(model.metadataProps!.find((p) => p.key === WEIGHTS_METADATA_KEY)?.value).toBe('int8');

    const yf = await floatLogits;
    const yq = (await run(int8.bytes, { ids }, 'basic')).logits.data;
    // Exactly the float32 model with weights q * s (to float32 rounding) ...
    const deq = dequantized(int8.bytes, int8.weights!.int8);
    const same = traceModel(c.graph, withValues(c.graph, params, deq), opts);
    const exact = maxAbsDiff(yq, (await run(same.bytes, { ids }, 'basic')).logits.data);
    // ... and within what those weights' errors allow of the float32 one. Folded into MatMulNBits,
    // the int8 activations add a rounding of relative step at most twice the weights' (LayerNorm
    // outputs peak near 4 rms, uniform weights at 1.7), in quadrature: sqrt(1 + 2^2) < 3 times.
    const tol = tolerance(float.bytes, int8, yf);
    const diff = maxAbsDiff(yq, yf);
    const folded = maxAbsDiff((await run(int8.bytes, { ids })).logits.data, yf);
    const ratio = int8.bytes.length / float.bytes.length;
    measured.push(
      `GPT int8: size ${int8.bytes.length} / ${float.bytes.length} = ${ratio.toFixed(3)}; max|dlogits| ${fmt(diff)}, folded by onnxruntime ${fmt(folded)} (tolerance ${fmt(tol)}, rms logits ${rms(yf).toFixed(2)}); vs float32 with q s weights ${fmt(exact)}`,
    );
    expect(exact).toBeLessThan(1e-5 * rms(yf));
    expect(folded).toBeLessThan(3 * tol);
    expect(int8.weights!.float32Bytes).toBe(float.bytes.length);
    expect(int8.weights!.bytes).toBe(int8.bytes.length);
    expect(ratio).toBeLessThanOrEqual(0.3);
    expect(diff).toBeLessThan(tol);
  });

  it('float16: every large tensor as float16 behind a Cast; logits within float16 rounding', async () => {
    const half = traceModel(c.graph, params, { ...opts, dtype: 'float16' });
    const model = onnx.ModelProto.decode(half.bytes);
    const converted = half.weights!.float16;
    const casts = model.graph!.node!.filter((n) => n.opType === 'Cast' && converted.includes(n.output![0]));
    expect(casts.length).toBe(converted.length);
    for (const k of params.keys()) expect(converted.includes(k), k).toBe(params.get(k).size >= 1024);
    // Stored values are the nearest float16 of the float32 ones (half an ulp, checked here in float64),
    // the parameters and the position tables alike.
    const stored = storedValues(half.bytes, half.weights!);
    const original = originalValues(float.bytes, stored);
    const beyondHalfUlp = converted.filter((k) => {
      const [w, v] = [original.get(k)!, stored.get(k)!];
      return w.some((x, i) => Math.abs(v[i] - x) > 2 ** (Math.floor(Math.log2(Math.max(Math.abs(x), 2 ** -14))) - 11));
    });
    expect(beyondHalfUlp).toEqual([]);
    const yf = await floatLogits;
    const yh = (await run(half.bytes, { ids }, 'basic')).logits.data;
    const tol = tolerance(float.bytes, half, yf);
    const diff = maxAbsDiff(yh, yf);
    const ratio = half.bytes.length / float.bytes.length;
    measured.push(`GPT float16: size ratio ${ratio.toFixed(3)}, max|dlogits| ${fmt(diff)} (tolerance ${fmt(tol)})`);
    expect(ratio).toBeLessThanOrEqual(0.55);
    expect(diff).toBeLessThan(tol);
  });

  it('int8 with float16: weights int8, the other large tensors (the position tables) float16', async () => {
    const both = traceModel(c.graph, params, { ...opts, quantize: 'int8', dtype: 'float16' });
    const int8 = both.weights!.int8.map((t) => t.name);
    expect(int8.length).toBe(9);
    expect(both.weights!.float16.length).toBeGreaterThan(0);
    expect(both.weights!.float16.filter((n) => int8.includes(n) || params.has(n))).toEqual([]);
    expect(onnx.ModelProto.decode(both.bytes).metadataProps!.find((p) => p.key === WEIGHTS_METADATA_KEY)?.value).toBe(
      'int8+float16',
    );
    const yf = await floatLogits;
    const yb = (await run(both.bytes, { ids }, 'basic')).logits.data;
    const ratio = both.bytes.length / float.bytes.length;
    const tol = tolerance(float.bytes, both, yf);
    measured.push(
      `GPT int8+float16: size ratio ${ratio.toFixed(3)}, max|dlogits| ${fmt(maxAbsDiff(yb, yf))} (tolerance ${fmt(tol)})`,
    );
    expect(ratio).toBeLessThan(
      traceModel(c.graph, params, { ...opts, quantize: 'int8' }).bytes.length / float.bytes.length,
    );
    expect(maxAbsDiff(yb, yf)).toBeLessThan(tol);
  });
});

describe('a GPT, stateful (KV cache) export', () => {
  it('int8 predicts the float32 tokens step by step and generates the same greedy text', async () => {
    const c = gptModel({ dim: 128, window: 4 });
    const params = ParamStore.initialize(c.graph, 12, reference);
    const float = traceModel(c.graph, params, { stateful: true, maxPositions: 64 });
    const int8 = traceModel(c.graph, params, { stateful: true, maxPositions: 64, quantize: 'int8' });
    expect(int8.inputs.map((i) => i.name)).toEqual(float.inputs.map((i) => i.name));
    expect(int8.weights!.int8.length).toBe(9);
    /** A prompt of 3, then one token at a time: `given` tokens (teacher forcing), or greedy ones. */
    // As `ganglion run` runs a file: onnxruntime's level 'all' (MatMulNBits, see run()).
    const steps = async (bytes: Uint8Array, given?: readonly number[]) => {
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
      const tokens = given ? given.slice(0, 3) : [3, 7, 1];
      const logits: number[][] = [];
      let cache: Record<string, FeedValue> = Object.fromEntries(
        float.state.map((s) => [s.input, { data: new Float32Array(0), shape: [1, 2, 0, 64] }]),
      );
      for (let from = 0, to = 3; to <= 16; from = to, to++) {
        const time = to - from;
        const out = await runSession(session, {
          ids: { data: tokens.slice(from, to), shape: [1, time], dtype: 'int32' },
          position_ids: { data: Array.from({ length: time }, (_, k) => from + k), shape: [1, time], dtype: 'int32' },
          ...cache,
        });
        cache = Object.fromEntries(float.state.map((s) => [s.input, out[s.output]]));
        const last = Array.from(out.logits.data.slice((time - 1) * VOCAB, time * VOCAB));
        logits.push(last);
        tokens.push(given ? given[to] : last.indexOf(Math.max(...last)));
      }
      await session.release();
      return { tokens, logits, argmax: logits.map((l) => l.indexOf(Math.max(...l))) };
    };
    const text = Array.from(feedData(c.inputs, 1, 17, 5).ids.data);
    const f = await steps(float.bytes, text);
    const q = await steps(int8.bytes, text);
    const tol = tolerance(float.bytes, int8, f.logits.flat());
    const diff = maxAbsDiff(q.logits.flat(), f.logits.flat());
    const greedy = [await steps(float.bytes), await steps(int8.bytes)];
    measured.push(
      `GPT stateful int8: predictions ${f.argmax.join(',')}, max|dlogits| ${fmt(diff)} (tolerance ${fmt(tol)}), greedy ${greedy[0].tokens.join(',')}`,
    );
    expect(diff).toBeLessThan(3 * tol);
    expect(q.argmax).toEqual(f.argmax);
    expect(new Set(f.argmax).size).toBeGreaterThan(2);
    expect(greedy[1].tokens).toEqual(greedy[0].tokens);
  });
});

describe('a char-LSTM (native LSTM nodes)', () => {
  it('int8 quantizes the LSTM weights by gate rows and the head; logits within the scales', async () => {
    const c = charModel('lstm', 128);
    const params = ParamStore.initialize(c.graph, 5, reference);
    const float = traceModel(c.graph, params);
    const int8 = traceModel(c.graph, params, { quantize: 'int8' });
    // [4 hidden, in] and [4 hidden, hidden] reach the LSTM nodes reordered and reshaped; the head is [hidden, vocab].
    expect(Object.fromEntries(int8.weights!.int8.map((t) => [t.name, t.axis]))).toEqual({
      'lstm1.weight_ih': 0,
      'lstm1.weight_hh': 0,
      'lstm2.weight_ih': 0,
      'lstm2.weight_hh': 0,
      'head.kernel': 1,
    });
    const { ids } = feedData(c.inputs, 2, 5, 3);
    const yf = (await run(float.bytes, { ids }, 'basic')).logits.data;
    const yq = (await run(int8.bytes, { ids }, 'basic')).logits.data;
    const tol = tolerance(float.bytes, int8, yf);
    const ratio = int8.bytes.length / float.bytes.length;
    measured.push(
      `char-LSTM 128 int8: size ratio ${ratio.toFixed(3)}, max|dlogits| ${fmt(maxAbsDiff(yq, yf))} (tolerance ${fmt(tol)})`,
    );
    expect(maxAbsDiff(yq, yf)).toBeLessThan(tol);
    expect(ratio).toBeLessThanOrEqual(0.3);
  });
});

describe('errors', () => {
  const c = charModel('lstm', 4);
  const params = ParamStore.initialize(c.graph, 1, reference);

  it('names a misspelled option', () => {
    expect(() => traceModel(c.graph, params, { quantize: 'int4' as 'int8' })).toThrow(
      new ExportError('options.quantize is "int4"; expected "int8" (or leave it out for float weights)'),
    );
    expect(() => traceModel(c.graph, params, { dtype: 'bfloat16' as 'float16' })).toThrow(
      new ExportError('options.dtype is "bfloat16"; expected "float32" or "float16"'),
    );
  });

  it('refuses int8 for a model below opset 13 (no per-channel DequantizeLinear)', () => {
    const model = onnx.ModelProto.decode(traceModel(c.graph, params).bytes);
    model.opsetImport![0].version = 12;
    const old = onnx.ModelProto.encode(model).finish();
    expect(() => quantizeModel(old, { quantize: 'int8' })).toThrow(
      /imports opset 12; per-channel DequantizeLinear needs opset 13/,
    );
  });
});
