// Every contender of `ganglion bench`, in the order they run and print. To add one (say, Ganglion
// on a WebGPU backend), write a Contender and list it here.
import type { Contender } from './contender.js';
import { ganglionOnnxContender, ganglionOnnxExportContender } from './contenders/ganglion-onnx.js';
import { ganglionContender } from './contenders/ganglion.js';
import { ortPytorchContender } from './contenders/ort-pytorch.js';
import { pytorchContender } from './contenders/pytorch.js';
import { tfjsLayersContender } from './contenders/tfjs-layers.js';
import { TOKENIZER_TASK_NAMES } from './tokenizer-workload.js';

export const CONTENDERS: readonly Contender[] = [
  ganglionContender('tfjs', 'slow'),
  ganglionContender('tfjs-wasm', 'medium'),
  ganglionContender('reference', 'slow', { quickOnly: true }),
  ganglionOnnxContender,
  ganglionOnnxExportContender,
  tfjsLayersContender('cpu', 'slow'),
  tfjsLayersContender('wasm', 'medium'),
  pytorchContender,
  ortPytorchContender,
];

/** What --only accepts: the model contenders, then the tokenizer workload's tasks. */
export const CONTENDER_NAMES = [...CONTENDERS.map((c) => c.name), ...TOKENIZER_TASK_NAMES];

export function contenderNamed(name: string): Contender | undefined {
  return CONTENDERS.find((c) => c.name === name);
}
