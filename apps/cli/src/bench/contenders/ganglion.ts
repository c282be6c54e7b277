// Ganglion contenders on the backends it has today: Trainer.trainStep (forward wave, backward
// wave, global-norm clipping, Adam) and Runtime.forward, on the char-lstm graph.
import type { BackendName } from '../../container.js';
import type { NodeContender, Session } from '../contender.js';
import { type Pace, type Workload, syntheticBatch, workloadGraph } from '../workload.js';

const DESCRIPTIONS: Record<Exclude<BackendName, 'onnx'>, string> = {
  tfjs: 'tfjs cpu',
  'tfjs-wasm': 'tfjs wasm',
  reference: 'reference (float64 JS)',
};

/** Ganglion on one of the CLI's backends (`ganglion train --backend NAME`). */
export function ganglionContender(backendName: Exclude<BackendName, 'onnx'>, pace: Pace, opts: { quickOnly?: boolean } = {}): NodeContender {
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

async function prepareGanglion(backendName: Exclude<BackendName, 'onnx'>, w: Workload): Promise<Session> {
  const { Runtime, TOKENS, keep, tensor, tidy } = await import('@ganglion/core');
  const { buildContainer, createBackend } = await import('../../container.js');
  const { clipFlag } = await import('../../args.js');
  const backend = await createBackend(backendName);
  const container = buildContainer({ backend, lr: w.lr, optimizer: 'adam', ...clipFlag(`global-norm:${w.clipNorm}`, 'none') });
  const trainer = container.get(TOKENS.Trainer);
  const runtime = new Runtime(await workloadGraph(w), { seed: 0, backend });
  const data = syntheticBatch(w);
  const feeds = {
    ids: keep(tensor(data.ids, [w.batch, w.seqLen], 'int32', backend)),
    labels: keep(tensor(data.labels, [w.batch, w.seqLen], 'int32', backend)),
  };
  return {
    trainStep: () => trainer.trainStep(runtime, feeds),
    forward: () => tidy(() => runtime.forward(feeds).logits.dataSync()),
    notes: ['forward also computes the loss output (the graph has one wave for both)'],
  };
}
