// ganglion export: a checkpoint's language model as an ONNX file (logits from ids, batch and time
// dims free), optionally stateful (state_in.* / state_out.*) so it generates token by token alone.
import { resolve } from 'node:path';
import { writeOnnxFile } from '@ganglion/backend-onnx';
import { type FlagSpec, UsageError, num, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { VOCAB_METADATA_KEY } from '../onnx-models.js';

const FLAGS: FlagSpec = { out: { type: 'string' }, opset: { type: 'string' }, stateful: { type: 'boolean' }, 'max-positions': { type: 'string' }, help: { type: 'boolean', short: 'h' } };
export const EXPORT_HELP = `usage: ganglion export DIR --out model.onnx [--opset N] [--stateful] [--max-positions N]
Exports the checkpoint in DIR to ONNX (opset 17..26, default 17). The vocabulary travels in the
model's metadata_props; --stateful adds the recurrent state as inputs/outputs (for a GPT:
position_ids, past_key_values.N.* and present.N.*), so \`ganglion run\` can generate from the file
alone. --max-positions (default 4096): the stream positions a GPT's RoPE tables cover.`;

export interface ExportSettings {
  readonly dir: string;
  readonly out: string;
  readonly opset: number;
  readonly stateful: boolean;
  readonly maxPositions?: number;
}

export async function runExport(s: ExportSettings): Promise<{ path: string; inputs: string[]; outputs: string[] }> {
  const { checkpoint, tokenizer } = await loadModel(s.dir, await createBackend('reference'));
  const model = writeOnnxFile(resolve(s.out), checkpoint.graph, checkpoint.params, {
    opset: s.opset,
    outputs: ['logits'],
    inputs: { ids: ['batch', 'time'] },
    stateful: s.stateful,
    maxPositions: s.maxPositions,
    metadata: { [VOCAB_METADATA_KEY]: JSON.stringify(tokenizer.toJSON()), 'ganglion.preset': String(checkpoint.meta.preset ?? ''), 'ganglion.step': String(checkpoint.meta.step) },
  });
  const describe = (v: { name: string; shape: readonly (number | string)[]; dtype: string }) => `${v.name} [${v.shape.join(', ')}] ${v.dtype}`;
  return { path: resolve(s.out), inputs: model.inputs.map(describe), outputs: model.outputs.map(describe) };
}

export async function exportCommand(argv: readonly string[], io: { stdout: { write(s: string): unknown } }): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'export');
  if (values.help) {
    io.stdout.write(`${EXPORT_HELP}\n`);
    return;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one checkpoint directory, got ${positionals.length} arguments\n${EXPORT_HELP}`);
  if (typeof values.out !== 'string') throw new UsageError(`--out: the path of the .onnx file to write is required\n${EXPORT_HELP}`);
  const r = await runExport({ dir: positionals[0], out: values.out, opset: num('opset', values.opset, 17, { min: 17, max: 26, integer: true }), stateful: Boolean(values.stateful),
    maxPositions: values['max-positions'] === undefined ? undefined : num('max-positions', values['max-positions'], 4096, { min: 1, integer: true }),
  });
  io.stdout.write(`wrote ${r.path}\n  inputs:  ${r.inputs.join(', ')}\n  outputs: ${r.outputs.join(', ')}\n`);
}
