// @ganglion/backend-onnx: ONNX export by tracing (graph -> ModelProto), the onnxruntime-node runner,
// the compiled training step (forward + backward + clipping + optimizer as one ONNX graph),
// and the OnnxModel layer that puts an .onnx file into a graph as a frozen node.
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
  writeOnnxFile,
} from './export.js';
export type { ExportOptions, ExportedModel, StateBinding, ValueDescription } from './export.js';
export { OnnxRuntimeRunner } from './runner.js';
export type { RunOptions, RunnerOptions } from './runner.js';
export { createSession, fromOrtTensor, runSession, toOrtTensor } from './ort-tensors.js';
export { describeOnnxModel } from './onnx-file.js';
export type { ExternalTensor, OnnxFileInfo, OnnxPort } from './onnx-file.js';
export type { FeedValue, OrtValue } from './ort-tensors.js';
export { OnnxModel, portName } from './import/onnx-model.js';
export type { OnnxModelConfig } from './import/onnx-model.js';
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
