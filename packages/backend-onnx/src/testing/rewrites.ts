// Tests of graph rewrites: run a model before and after the rewrite in onnxruntime (its own graph
// optimizations off, so only ours differ) on the same feeds, and compare every output.
import { uniformValues } from '@ganglion/core';
import * as ort from 'onnxruntime-node';
import { maxAbsDiff } from './graphs.js';

/** Uniform(-1, 1) float32 feeds of these shapes, each from its own seed. */
export function uniformFeeds(inputs: Readonly<Record<string, readonly number[]>>): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, shape], k) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return [name, new ort.Tensor('float32', Float32Array.from(uniformValues(k + 1, n, -1, 1)), [...shape])];
    }),
  );
}

/** The largest difference between the two models' outputs (Infinity when a shape differs). */
export async function rewriteDiff(
  before: Uint8Array,
  after: Uint8Array,
  feeds: Readonly<Record<string, ort.Tensor>>,
): Promise<number> {
  const run = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
    const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]])));
    await session.release();
    return out;
  };
  const [a, b] = [await run(before), await run(after)];
  let worst = 0;
  for (const name of Object.keys(a)) {
    const same = b[name] && b[name].dims.join(',') === a[name].dims.join(',');
    worst = Math.max(worst, same ? maxAbsDiff(a[name].data as Float32Array, b[name].data as Float32Array) : Infinity);
  }
  return worst;
}
