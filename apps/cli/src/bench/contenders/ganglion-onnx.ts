// Ganglion on onnxruntime: the compiled training step of @ganglion/backend-onnx (the whole step —
// forward, backward, clipping, Adam — traced into one ONNX graph, run by onnxruntime-node), and the
// forward of Ganglion's own ONNX export (exportOnnx, the LSTMs as native ONNX LSTM nodes) with the
// same session options as ort-pytorch. A backend-onnx without compiled training gives forward only.
import type { Graph, ParamStore } from '@ganglion/core';
import type { NodeContender, Session } from '../contender.js';
import { loadOrt, optionalImport } from '../optional-import.js';
import { type Workload, syntheticBatch } from '../workload.js';

type Feed = { readonly data: Int32Array; readonly shape: readonly number[] };

/** The part of @ganglion/backend-onnx this contender uses (typed here: the CLI may not build against it). */
interface BackendOnnx {
  exportOnnx(graph: Graph, params: ParamStore, options: { inputs?: Record<string, readonly number[]>; outputs?: readonly string[] }): Uint8Array;
  compiledTrainingSession?(o: { graph: Graph; setup: unknown; feeds: Record<string, Feed>; seed?: number }): Promise<{ trainStep(): Promise<unknown> }>;
}

const loadBackendOnnx = () => optionalImport<BackendOnnx>('@ganglion/backend-onnx');

export const ganglionOnnxContender: NodeContender = {
  kind: 'node',
  name: 'ganglion-onnx',
  framework: 'ganglion',
  backend: 'onnxruntime, 2 threads',
  description: "@ganglion/backend-onnx's compiled training step, and Ganglion's ONNX export (exportOnnx), in onnxruntime-node",
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
    const { ReferenceBackend, Runtime, createTrainer } = await import('@ganglion/core');
    const { charLstm } = await import('../../presets.js');
    const graph = charLstm(w.embed, Array(w.layers).fill(w.units))(w.vocab);
    const data = syntheticBatch(w);
    const shape = [w.batch, w.seqLen];

    // The parameters only need a home to be traced from; onnxruntime does the arithmetic.
    const params = new Runtime(graph, { seed: 0, backend: new ReferenceBackend() }).params;
    const bytes = onnx.exportOnnx(graph, params, { inputs: { ids: shape }, outputs: ['logits'] });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: w.threads, interOpNumThreads: 1 });
    const ids = new ort.Tensor('int32', data.ids, shape);
    const forward = async () => (await session.run({ ids })).logits.data;

    if (!onnx.compiledTrainingSession) return { forward, notes: ['train step: this @ganglion/backend-onnx has no compiled training step'] };
    const setup = createTrainer({ optimizer: 'adam', lr: w.lr, clipping: 'global-norm', clippingOptions: { maxNorm: w.clipNorm } });
    const training = await onnx.compiledTrainingSession({ graph, setup, seed: 0, feeds: { ids: { data: data.ids, shape }, labels: { data: data.labels, shape } } });
    return {
      trainStep: () => training.trainStep(),
      forward,
      notes: ['train step: forward, backward, clipping and Adam compiled into onnxruntime; forward: exportOnnx of the logits (one process holds both)'],
    };
  },
};
