// A graph run by onnxruntime as a `TokenModel` (core's generation loop): traced once with a free
// time dim (any chunk length), state carried by the runner from call to call.
import { type Graph, type ParamStore, type TokenModel, lastRow } from '@ganglion/core';
import { OnnxRuntimeRunner } from './runner.js';

/**
 * A language model's graph in onnxruntime, traced once with a free time dim (any chunk length).
 * The runner feeds each wave's position-table rows (RoPE), so any stream length runs in flat memory.
 *
 *   const text = await generate(runnerModel(graph, params), tokenizer, 'The ', 100, { temperature: 0 });
 */
export function runnerModel(graph: Graph, params: ParamStore): TokenModel {
  const runner = new OnnxRuntimeRunner(graph.subgraph(['logits']), params, { shapes: 'dynamic' });
  return {
    reset: () => runner.resetState(),
    next: async (ids) => {
      const { logits } = await runner.run(
        { ids: { data: ids, shape: [1, ids.length], dtype: 'int32' } },
        { stream: true },
      );
      return lastRow(logits.data as Float32Array, logits.shape[2]);
    },
  };
}
