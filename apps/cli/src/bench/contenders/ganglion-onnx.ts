// Ganglion on onnxruntime. Today: the forward of Ganglion's own ONNX export (exportOnnx, the LSTMs
// as native ONNX LSTM nodes) run by onnxruntime-node with the same session options as ort-pytorch.
// The compiled training step of @ganglion/backend-onnx plugs in as `trainStep` when it lands.
import type { Graph, ParamStore } from '@ganglion/core';
import type { NodeContender, Session } from '../contender.js';
import { loadOrt, optionalImport } from '../optional-import.js';
import { type Workload, syntheticBatch } from '../workload.js';

/** The part of @ganglion/backend-onnx this contender uses. */
interface BackendOnnx {
  exportOnnx(graph: Graph, params: ParamStore, options: { inputs?: Record<string, readonly number[]>; outputs?: readonly string[] }): Uint8Array;
}

const loadBackendOnnx = () => optionalImport<BackendOnnx>('@ganglion/backend-onnx');

export const ganglionOnnxContender: NodeContender = {
  kind: 'node',
  name: 'ganglion-onnx',
  framework: 'ganglion',
  backend: 'onnxruntime cpu (2 threads)',
  description: "Ganglion's ONNX export (exportOnnx) run by onnxruntime-node; training step: not yet",
  pace: 'fast',
  async available() {
    const onnx = await loadBackendOnnx();
    if (typeof onnx === 'string') return onnx;
    const ort = await loadOrt();
    return typeof ort === 'string' ? ort : true;
  },
  async prepare(w: Workload): Promise<Session> {
    const onnx = await loadBackendOnnx();
    const ort = await loadOrt();
    if (typeof onnx === 'string') throw new Error(onnx);
    if (typeof ort === 'string') throw new Error(ort);
    const { ReferenceBackend, Runtime } = await import('@ganglion/core');
    const { charLstm } = await import('../../presets.js');
    // The parameters only need a home to be traced from; onnxruntime does the arithmetic.
    const graph = charLstm(w.embed, Array(w.layers).fill(w.units))(w.vocab);
    const params = new Runtime(graph, { seed: 0, backend: new ReferenceBackend() }).params;
    const bytes = onnx.exportOnnx(graph, params, { inputs: { ids: [w.batch, w.seqLen] }, outputs: ['logits'] });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: w.threads, interOpNumThreads: 1 });
    const ids = new ort.Tensor('int32', syntheticBatch(w).ids, [w.batch, w.seqLen]);
    return {
      forward: async () => (await session.run({ ids })).logits.data,
      notes: ['train step: pending the compiled training step of @ganglion/backend-onnx'],
    };
  },
};
