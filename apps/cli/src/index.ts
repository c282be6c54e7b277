// @ganglion/cli as a library: presets, generation and sampling, for programs that embed them.
export { PRESETS, PRESET_NAMES } from './presets.js';
export type { Preset } from './presets.js';
export { generate, sample } from './generation.js';
export type { SamplingOptions } from './generation.js';
export { main } from './cli.js';
