// The compiled training step as a benchmark session: the workload's graph and optimizer, traced,
// loaded and run on the fixed batch by `compiledTrainingSession` of the backend-onnx entry given
// (the Node entry, onnxruntime-node; or the main entry bound to onnxruntime-web in the browser's
// bench page, apps/web). No Node module here, so the browser's bench page uses it too.
import type { Session } from '../contender.js';
import { type Workload, syntheticBatch, workloadGraph } from '../workload.js';

/** What the session needs of @ganglion/backend-onnx (either entry). */
export type CompiledTraining = Pick<typeof import('@ganglion/backend-onnx'), 'compiledTrainingSession'>;

export async function compiledStepSession(
  { compiledTrainingSession }: CompiledTraining,
  w: Workload,
): Promise<Session> {
  const { createTrainer } = await import('@ganglion/core');
  const graph = await workloadGraph(w);
  const optimizerOptions = w.kind === 'gpt' ? { weightDecay: w.weightDecay } : {};
  const trainer = createTrainer({
    optimizer: w.optimizer,
    optimizerOptions,
    lr: w.lr,
    clipping: 'global-norm',
    clippingOptions: { maxNorm: w.clipNorm },
  });
  const { ids, labels } = syntheticBatch(w);
  const shape = [w.batch, w.seqLen];
  // The initial weights go straight into float32 arrays (seed 0, as every contender's), and the
  // first step's session and the steady-state one are traced and loaded now, as a training run
  // would before its first step (the first-step time, from the process start, includes them).
  const session = await compiledTrainingSession({
    graph,
    seed: 0,
    setup: { optimizer: trainer.optimizer, clipping: trainer.clipping, schedule: trainer.schedule, lr: w.lr },
    feeds: {
      ids: { data: ids, shape, dtype: 'int32' as const },
      labels: { data: labels, shape, dtype: 'int32' as const },
    },
  });
  const optimizer = w.optimizer === 'adam' ? 'Adam' : 'AdamW';
  const notes = [
    `forward, backward, clipping and ${optimizer} compiled to onnxruntime graphs; ${w.kind === 'char-lstm' ? 'its forward is ganglion-onnx-export' : 'training only'}`,
  ];
  let steps = 0;
  return {
    async trainStep() {
      const { loss } = await session.trainStep();
      if (++steps === 1) notes.push(`loss at step 1: ${loss.toFixed(4)}`);
    },
    paramCount: graph.paramCount(),
    notes,
  };
}
