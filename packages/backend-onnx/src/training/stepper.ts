// compiledStepper: a Trainer's steps run as a compiled ONNX training step. `trainer.fit` calls it in
// place of its eager `trainStep`; the runtime keeps the eager copy of the weights, brought up to
// date (`sync`) before checkpoints, and validation runs in onnxruntime too. Watches on the runtime
// (`runtime.watch`) become taps of the compiled graph.
//
//   const stepper = compiledStepper(runtime, trainer);
//   trainer.fit(runtime, data, { steps: 100, stepper }).subscribe(console.log);
import type { Dataset, Runtime, Stepper, Tensor, Trainer } from '@ganglion/core';
import { type CompileOptions, type CompiledTrainer, compileTrainStep } from './compiled-trainer.js';
import { evaluateOnnx } from './evaluate-onnx.js';

export interface CompiledStepper extends Stepper {
  readonly compiled: CompiledTrainer;
}

export function compiledStepper(runtime: Runtime, trainer: Trainer, options: CompileOptions = {}): CompiledStepper {
  const compiled = compileTrainStep(
    runtime,
    {
      optimizer: trainer.optimizer,
      clipping: trainer.clipping,
      schedule: trainer.schedule,
      lr: trainer.options.lr,
      step: trainer.step,
    },
    options,
  );
  return {
    compiled,
    step: (batch: Readonly<Record<string, Tensor>>) => compiled.step(batch),
    sync: () => compiled.syncTo(runtime.params, trainer),
    // The forward traced once with the current weights, run in onnxruntime.
    evaluate: async (data: Dataset) => {
      const params = compiled.paramStore(runtime.backend);
      try {
        return await evaluateOnnx(runtime.graph, params, data);
      } finally {
        params.dispose();
      }
    },
  };
}
