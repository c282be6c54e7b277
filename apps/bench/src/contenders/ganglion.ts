// Ganglion contenders on its eager backends: Trainer.trainStep (forward wave, backward wave,
// global-norm clipping, Adam) and Runtime.forward, on the char-lstm graph — what
// `ganglion train --backend NAME` runs for tfjs, tfjs-wasm and reference.
import type { NodeContender, Session } from '../contender.js';
import { type Pace, type Workload, syntheticBatch, workloadGraph } from '../workload.js';

export type EagerBackendName = 'tfjs' | 'tfjs-wasm' | 'reference';

const DESCRIPTIONS: Record<EagerBackendName, string> = {
  tfjs: 'tfjs cpu',
  'tfjs-wasm': 'tfjs wasm',
  reference: 'reference (float64 JS)',
};

/** Ganglion on one of its eager backends (`ganglion train --backend NAME`). */
export function ganglionContender(
  backendName: EagerBackendName,
  pace: Pace,
  opts: { quickOnly?: boolean } = {},
): NodeContender {
  return {
    kind: 'node',
    name: `ganglion-${backendName}`,
    framework: 'ganglion',
    backend: DESCRIPTIONS[backendName],
    description: `Ganglion Trainer.trainStep and Runtime.forward, --backend ${backendName}`,
    pace,
    quickOnly: opts.quickOnly,
    available: async () => true,
    prepare: (w) => prepareGanglion(backendName, w),
  };
}

async function createBackend(name: EagerBackendName): Promise<import('@ganglion/core').Backend> {
  if (name === 'reference') return new (await import('@ganglion/core')).ReferenceBackend();
  const { TfjsBackend } = await import('@ganglion/backend-tfjs');
  return TfjsBackend.create(name === 'tfjs' ? 'cpu' : 'wasm');
}

async function prepareGanglion(backendName: EagerBackendName, w: Workload): Promise<Session> {
  const { Runtime, createTrainer, keep, setBackend, tensor, tidy } = await import('@ganglion/core');
  const backend = await createBackend(backendName);
  setBackend(backend);
  const trainer = createTrainer({
    backend,
    optimizer: w.optimizer,
    lr: w.lr,
    clipping: 'global-norm',
    clippingOptions: { maxNorm: w.clipNorm },
  });
  const runtime = new Runtime(await workloadGraph(w), { seed: 0, backend });
  const data = syntheticBatch(w);
  const feeds = {
    ids: keep(tensor(data.ids, [w.batch, w.seqLen], 'int32', backend)),
    labels: keep(tensor(data.labels, [w.batch, w.seqLen], 'int32', backend)),
  };
  return {
    trainStep: () => trainer.trainStep(runtime, feeds),
    forward: () => tidy(() => runtime.forward(feeds).logits.dataSync()),
    paramCount: runtime.params.keys().reduce((n, k) => n + runtime.params.get(k).size, 0),
    notes: ['forward also computes the loss output (the graph has one wave for both)'],
  };
}
