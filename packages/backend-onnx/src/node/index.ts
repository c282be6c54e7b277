// @ganglion/backend-onnx/node: everything of `@ganglion/backend-onnx`, run by onnxruntime-node,
// plus what reads and writes files (writeOnnxFile, the OnnxModel layer over an .onnx file).
// Importing this entry is the choice of runtime: it binds onnxruntime-node (useOrt), as a
// browser page binds onnxruntime-web; everything else is the same code and the same ONNX graphs.
import * as ortNode from 'onnxruntime-node';
import { useOrt } from '../ort-runtime.js';
import { collectGarbage } from './collect-garbage.js';

// onnxruntime-node's telemetry, on by default, parses /proc/self/cmdline recursively when the
// first session is created (a command line over ~28 kB, e.g. a long --prompt, overflows the
// native stack) and writes under ~/.cache/Microsoft and /tmp. Off unless the user set it.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
/**
 * Bind onnxruntime-node as importing this entry does: V8's full collection between split steps,
 * and threads that spin between ops, as onnxruntime's and PyTorch's do, unless
 * OMP_WAIT_POLICY=PASSIVE.
 */
export function useOrtNode(): void {
  useOrt(ortNode, {
    collectGarbage,
    preallocatedOutputs: true,
    spinThreads: process.env.OMP_WAIT_POLICY?.toLowerCase() !== 'passive',
  });
}
useOrtNode();

export * from '../index.js';
export { ortNode };
export { writeOnnxFile } from './write-onnx-file.js';
export { OnnxModel, portName } from '../import/onnx-model.js';
export type { OnnxModelConfig } from '../import/onnx-model.js';
