// @ganglion/backend-tfjs: run Ganglion primitives on TensorFlow.js (cpu, or wasm where it has the kernels).
export { TfjsBackend } from './tfjs-backend.js';
export type { TfjsFlavor } from './tfjs-backend.js';
export { tfjsLowerings } from './lowerings.js';
export type { TfjsLowering } from './lowerings.js';
