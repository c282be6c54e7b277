// @ganglion/core: the op set, autodiff, tensors, the backend interface and the reference backend.
export * from './errors.js';
export * from './dtype.js';
export * from './shape/dim.js';
export { Tensor } from './tensor.js';
export type { Backend, BackendCapabilities, LoweringTable, Operand, TensorData, TensorSpec } from './backend.js';
export {
  apply,
  dispose,
  getBackend,
  keep,
  makeTensor,
  setBackend,
  tidy,
  withBackend,
  withoutRecording,
} from './engine.js';
export type { Recorder, TapeEntry } from './engine.js';
export { fill, ones, scalar, tensor, zeros } from './creation.js';
export type { NestedArray } from './creation.js';
export * from './ops/index.js';
export { primitives, OP_NAMES, isOpName } from './ops/registry.js';
export type { AttrsOf, OpName, Primitives } from './ops/registry.js';
export { definePrimitive } from './ops/primitive.js';
export type { Primitive, VjpContext, VjpRule } from './ops/primitive.js';
export { gelu, geluTanh, silu, softplus, square } from './composites/activations.js';
export { meanSquaredError, oneHot, softmaxCrossEntropy } from './composites/losses.js';
export { flatten, squeeze, unsqueeze } from './composites/shape-ops.js';
export {
  fromOnnxRecurrentWeights,
  gruCell,
  lstmCell,
  toOnnxRecurrentWeights,
  unrollRecurrent,
} from './composites/rnn-cells.js';
export type { RecurrentCell, RecurrentWeights, UnrollOptions } from './composites/rnn-cells.js';
export { Tape } from './autodiff/tape.js';
export { grad, valueAndGrad, vjp } from './autodiff/grad.js';
export { ReferenceBackend } from './reference/reference-backend.js';
export { checkIndices } from './reference/kernels/indexing.js';
export { Rng, normalValues, uniformAt, uniformValues } from './random/prng.js';
export * from './graph/messages.js';
export { Layer, expectPort, lastDim } from './graph/layer.js';
export type {
  InputPortDecl,
  LayerClass,
  LayerContext,
  LayerGradients,
  LayerResult,
  LayerSignature,
  NodeCall,
  NodeHook,
  ParamSpec,
  PortSpec,
} from './graph/layer.js';
export { fans, initialValues } from './graph/initializers.js';
export type { Initializer } from './graph/initializers.js';
export { Graph } from './graph/graph.js';
export type { GraphInput, GraphJSON, GraphNode, LayerResolver } from './graph/graph.js';
export { GraphBuilder, Port, graphFromJSON, sequential } from './graph/builder.js';
export type { PortLike } from './graph/builder.js';
export { ParamStore, paramKey } from './graph/params.js';
export { Runtime } from './graph/runtime.js';
export type { ForwardOptions, RuntimeOptions, TrainStepResult, TrainStepTensors } from './graph/runtime.js';
export { concatPrimitive } from './ops/concat.js';
export { reshapePrimitive } from './ops/reshape.js';
export { deriveSeed, hashString } from './random/prng.js';
export { TOKENS } from './di/tokens.js';
export type { ClippingOptions, OptimizerOptions, PluginOptions, ScheduleOptions, TrainerOptions } from './di/tokens.js';
export {
  BUILTIN_PLUGINS,
  DEFAULT_PLUGINS,
  bindActivePlugins,
  builtinPlugins,
  pluginRegistry,
  pluginsModule,
  trainingModule,
} from './di/modules.js';
export type { PluginChoice } from './di/modules.js';
export {
  KIND_NOUN,
  PLUGIN_KINDS,
  PluginRegistry,
  definePlugin,
  expectedText,
  isValidOption,
  parseOptions,
  pluginLabel,
} from './di/plugin-registry.js';
export type {
  AnyPluginSpec,
  BooleanOption,
  NumberListOption,
  NumberOption,
  OptionSchema,
  OptionSpec,
  OptionValue,
  OptionsOf,
  PluginKind,
  PluginSpec,
  PluginTypes,
} from './di/plugin-registry.js';
export { SlotOptimizer, updateAll } from './training/optimizer.js';
export type { Optimizer, OptimizerState, ParamTarget, ParamUpdate, Slots, StepScalars } from './training/optimizer.js';
export { SGD, sgdPlugin, type SGDOptions } from './training/optimizers/sgd.js';
export { Adam, adamPlugin, type AdamOptions } from './training/optimizers/adam.js';
export { AdamW, adamwPlugin } from './training/optimizers/adamw.js';
export { RMSProp, rmspropPlugin, type RMSPropOptions } from './training/optimizers/rmsprop.js';
export { Adagrad, adagradPlugin, type AdagradOptions } from './training/optimizers/adagrad.js';
export { globalNorm, tensorNorm } from './training/clipping/clipping-policy.js';
export type { ClippingPolicy } from './training/clipping/clipping-policy.js';
export { NoClipping, noClippingPlugin } from './training/clipping/no-clipping.js';
export { ClipByValue, clipByValuePlugin } from './training/clipping/clip-by-value.js';
export { ClipByNorm, clipByNormPlugin } from './training/clipping/clip-by-norm.js';
export { ClipByGlobalNorm, clipByGlobalNormPlugin } from './training/clipping/clip-by-global-norm.js';
export type { LrSchedule } from './training/schedules/lr-schedule.js';
export { ConstantSchedule, constantSchedulePlugin } from './training/schedules/constant.js';
export { StepDecaySchedule, stepDecaySchedulePlugin } from './training/schedules/step-decay.js';
export { CosineSchedule, cosineSchedulePlugin } from './training/schedules/cosine.js';
export { Trainer, examplesIn, meanLoss } from './training/trainer.js';
export type { FitOptions, StepResult, Stepper } from './training/trainer.js';
export { stepGradients, stepUpdates } from './training/step.js';
export type { StepGradients, UpdateRule } from './training/step.js';
export type { BatchEvent, CheckpointEvent, DoneEvent, EpochEvent, TrainEvent } from './training/events.js';
export { earlyStopping } from './training/operators.js';
export { arrayDataset } from './data/array-dataset.js';
export { seededPermutation } from './data/dataset.js';
export { createTrainer, createTrainingContainer } from './training/create-trainer.js';
export type { CreateTrainerOptions } from './training/create-trainer.js';
export { SAFETENSORS_DTYPES, decodeSafetensors, encodeSafetensors } from './checkpoint/safetensors.js';
export type {
  SafetensorsDType,
  SafetensorsData,
  SafetensorsFile,
  SafetensorsTensor,
} from './checkpoint/safetensors.js';
export {
  CHECKPOINT_FILES,
  checkpointFiles,
  checkpointFromFiles,
  isCheckpointFile,
  saveCheckpointTo,
} from './checkpoint/checkpoint.js';
export type {
  CheckpointFiles,
  CheckpointFilesOptions,
  CheckpointOptimizerState,
  CheckpointState,
  CheckpointStore,
  LoadCheckpointOptions,
  LoadedCheckpoint,
} from './checkpoint/checkpoint.js';
export { sha256Hex } from './checkpoint/sha256.js';
export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION } from './checkpoint/checkpoint-meta.js';
export type { CheckpointMeta, CheckpointMetaInput, OptimizerMetaValue } from './checkpoint/checkpoint-meta.js';
export { DataError } from './data/dataset.js';
export type { Batch, Dataset } from './data/dataset.js';
export { CharTokenizer, TokenizerError, UNKNOWN_CHAR } from './data/char-tokenizer.js';
export { CharCounts, vocabularyCoverage } from './data/char-counts.js';
export type { VocabularyCoverage } from './data/char-counts.js';
export { allocateTokens, arrayTokenSource, tokenBytes, tokenDType, toTokenSource } from './data/token-source.js';
export type { TokenArray, TokenDType, TokenSource } from './data/token-source.js';
export type { CharTokenizerJSON } from './data/char-tokenizer.js';
export { StreamDecoder, TokenizerRegistry, parseTokenizerSpec } from './data/tokenizer.js';
export type { TextFiles, Tokenizer, TokenizerPlugin, TokenizerTrainer } from './data/tokenizer.js';
export { lmDataset, lmWindowCount } from './data/lm-windows.js';
export type { LmDataset, LmWindowOptions } from './data/lm-windows.js';
export { MLM_IGNORE, maskWindow, mlmDataset, mlmWindowCount } from './data/mlm-windows.js';
export type { MaskedWindow, MlmDataset, MlmSpecialIds, MlmWindowOptions } from './data/mlm-windows.js';
export {
  BOS_ID,
  EOS_ID,
  PAD_ID,
  PAD_LABEL,
  SEQ2SEQ_SPECIALS,
  SymbolVocab,
  seq2seqBatch,
  seq2seqDataset,
} from './data/seq2seq-pairs.js';
export type { Seq2SeqBatchOptions, Seq2SeqDataset, SequencePair } from './data/seq2seq-pairs.js';
export { trainValidationSplit, trainValidationSplitText } from './data/split.js';
export type { Split } from './data/split.js';
export { sampleToken, tokenProbabilities } from './generation/sampling.js';
export { PREFILL_CHUNK, generate, lastRow, prefill, runtimeModel } from './generation/generate.js';
export type { TokenModel } from './generation/generate.js';
export type { SamplingOptions } from './generation/sampling.js';
export { hypothesisLength } from './generation/decoder.js';
export type { DecodeOptions, DecoderStep, Hypothesis } from './generation/decoder.js';
export { greedyDecode, sampleDecode } from './generation/sample-decode.js';
export { beamSearch, lengthPenalty } from './generation/beam-search.js';
export type { BeamSearchOptions } from './generation/beam-search.js';
export { runtimeDecoder } from './generation/runtime-decoder.js';
export type { RuntimeDecoder, RuntimeDecoderOptions } from './generation/runtime-decoder.js';
export { editDistance, phonemeErrorRate, wordErrorRate } from './generation/error-rates.js';
export type { Reference } from './generation/error-rates.js';
export { hasOnnxLowering, onnxAttr } from './export/native-lowering.js';
export type { OnnxAttribute, OnnxBuilder, OnnxElementwiseOp, OnnxLowerable } from './export/native-lowering.js';
