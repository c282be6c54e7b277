// @ganglion/cli as a library: presets, generation and sampling, for programs that embed them.
export { PRESETS, PRESET_NAMES } from './presets.js';
export type { Preset } from './presets.js';
export { generate, sampleToken as sample } from '@ganglion/core';
export type { SamplingOptions } from '@ganglion/core';
export { main } from './cli.js';
