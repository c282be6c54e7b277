import { defineConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// The tests run on Node: bind onnxruntime-node as `@ganglion/backend-onnx/node` does.
export default defineConfig({ ...shared, test: { ...shared.test, setupFiles: ['./src/node/index.ts'] } });
