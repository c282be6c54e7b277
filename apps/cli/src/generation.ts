// The generation loop lives in @ganglion/core (generate, prefill, runtimeModel) and sampling too;
// this module keeps the CLI's names for them.
export {
  PREFILL_CHUNK,
  type SamplingOptions,
  type TokenModel,
  generate,
  lastRow,
  prefill,
  runtimeModel,
  sampleToken as sample,
  tokenProbabilities,
} from '@ganglion/core';
