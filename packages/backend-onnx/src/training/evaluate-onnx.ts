// evaluateOnnx: a validation loss computed in onnxruntime. Each batch's forward runs as an ONNX
// graph traced with the given weights (once per batch shape), and the batches are averaged by
// core's `meanLoss`, the rule of the eager `Trainer.evaluate` (mean per example), so a compiled
// training run and an eager one report the same number to float32 rounding.
//
//   const params = compiled.paramStore(backend);
//   const valLoss = await evaluateOnnx(graph, params, valData);
//   params.dispose();
import { type Dataset, type Graph, type ParamStore, meanLoss } from '@ganglion/core';
import { OnnxRuntimeRunner } from '../runner.js';
import type * as ort from 'onnxruntime-common';

export interface EvaluateOnnxOptions {
  /** The graph output to average (default 'loss'): a one-element mean over the batch. */
  readonly loss?: string;
  readonly sessionOptions?: ort.InferenceSession.SessionOptions;
}

/** Mean loss per example over `data` (epoch 0's batches, disposed), forward only, in onnxruntime. */
export async function evaluateOnnx(
  graph: Graph,
  params: ParamStore,
  data: Dataset,
  opts: EvaluateOnnxOptions = {},
): Promise<number> {
  const loss = opts.loss ?? 'loss';
  const runner = new OnnxRuntimeRunner(graph, params, { outputs: [loss], sessionOptions: opts.sessionOptions });
  try {
    return await meanLoss(data, async (batch) => (await runner.run(batch))[loss].data[0]);
  } finally {
    await runner.dispose();
  }
}
