// @ganglion/backend-onnx: ONNX export by tracing (graph -> ModelProto bytes), the runner and the
// compiled training step (forward + backward + clipping + optimizer as one ONNX graph) on the
// onnxruntime bound by `useOrt` (onnxruntime-web in a browser). Browser-clean: no Node module is
// imported from here. `@ganglion/backend-onnx/node` binds onnxruntime-node and adds files
// (writeOnnxFile, the OnnxModel layer over an .onnx file).
export { collectGarbage, currentOrt, useOrt } from './ort-runtime.js';
export type { ExecutionProvider, OrtModule, OrtOptions } from './ort-runtime.js';
export { POSITION_IDS, TraceBackend, MAX_OPSET, MIN_OPSET, irVersionFor } from './trace-backend.js';
export type { ModelOptions, TraceOptions, TraceValue } from './trace-backend.js';
export { onnxLowerings } from './lowerings.js';
export type { OnnxLowering } from './lowerings.js';
export {
  MAX_POSITIONS_METADATA_KEY,
  PAST_SEQUENCE_LENGTH,
  STATE_METADATA_KEY,
  exportOnnx,
  traceModel,
} from './export.js';
export type { ExportOptions, ExportedModel, StateBinding, ValueDescription } from './export.js';
export { VOCAB_METADATA_KEY, languageModelExportOptions } from './language-model-export.js';
export type { LanguageModelExportOptions } from './language-model-export.js';
export { OnnxRuntimeRunner } from './runner.js';
export { runnerModel } from './runner-model.js';
export type { RunOptions, RunnerOptions } from './runner.js';
export { createSession, fromOrtTensor, runSession, toOrtTensor } from './ort-tensors.js';
export { describeOnnxModel } from './onnx-file.js';
export type { ExternalTensor, OnnxFileInfo, OnnxPort } from './onnx-file.js';
export type { FeedValue, OrtValue } from './ort-tensors.js';
export { OnnxProgram, readOnnxMetadata } from './import/onnx-program.js';
export type { ProgramPort } from './import/onnx-program.js';
export {
  CompiledTrainer,
  DEFAULT_SESSION_OPTIONS,
  SPLIT_ABOVE_PARAMS,
  SPLIT_SESSION_OPTIONS,
  compileTrainStep,
  defaultStepMode,
} from './training/compiled-trainer.js';
export type {
  CompileOptions,
  CompiledGradients,
  CompiledStepResult,
  StepMode,
  TrainingSetup,
} from './training/compiled-trainer.js';
export { evaluateOnnx } from './training/evaluate-onnx.js';
export { compiledStepper } from './training/stepper.js';
export type { CompiledStepper } from './training/stepper.js';
export type { EvaluateOnnxOptions } from './training/evaluate-onnx.js';
export {
  TRAIN_STEP_NAMES,
  traceApply,
  traceGradNorm,
  traceGradients,
  traceTrainStep,
} from './training/trace-train-step.js';
export type {
  FeedSignature,
  StepPart,
  TraceApplyOptions,
  TraceGradientsOptions,
  TraceTrainStepOptions,
  TrainStepModel,
} from './training/trace-train-step.js';
export { rewriteGradientSums } from './training/gradient-sums.js';
export type { RewriteStats } from './training/gradient-sums.js';
export { benchCompiledTraining, compiledTrainingSession } from './training/bench.js';
export type { CompiledBenchOptions, CompiledBenchResult, CompiledTrainingSession } from './training/bench.js';
