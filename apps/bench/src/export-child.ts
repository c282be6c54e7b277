// A child process of the `ganglion-onnx-export` contender: builds the workload's char-LSTM (seed 0),
// exports its logits with exportOnnx and writes the file (argv: full|quick OUT). The contender's
// own process then only loads the file into onnxruntime, as a deployment would, and as the
// ort-pytorch contender loads the file PyTorch wrote in another process: tracing's memory is not
// counted in the process whose peak RSS is compared.
import { writeFileSync } from 'node:fs';
import { workloadGraph, workloadNamed } from './workload.js';

const [workloadName = 'full', out] = process.argv.slice(2);
const w = workloadNamed(workloadName);
if (!out || w?.kind !== 'char-lstm') {
  process.stderr.write('usage: export-child.js full|quick OUT.onnx\n');
  process.exit(2);
}
const { ReferenceBackend, Runtime } = await import('@ganglion/core');
const { exportOnnx } = await import('@ganglion/backend-onnx/node');
const graph = await workloadGraph(w);
// The parameters only need a home to be traced from; onnxruntime does the arithmetic.
const params = new Runtime(graph, { seed: 0, backend: new ReferenceBackend() }).params;
writeFileSync(out, exportOnnx(graph, params, { inputs: { ids: [w.batch, w.seqLen] }, outputs: ['logits'] }));
