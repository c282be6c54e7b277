// ganglion export: a checkpoint's language model as an ONNX file (logits from ids, batch and time
// dims free), optionally stateful (state_in.* / state_out.*) so it generates token by token alone.
import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CHECKPOINT_FILES, checkpointDirStatus, isCheckpointFile } from '@ganglion/core';
import { writeOnnxFile } from '@ganglion/backend-onnx';
import { type FlagSpec, UsageError, num, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { VOCAB_METADATA_KEY } from '../onnx-models.js';

export const EXPORT_FLAGS: FlagSpec = {
  out: { type: 'string' },
  opset: { type: 'string' },
  stateful: { type: 'boolean' },
  'max-positions': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const EXPORT_HELP = `usage: ganglion export DIR --out model.onnx [--opset N] [--stateful] [--max-positions N]
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

/**
 * Refuse an --out that would destroy something, before anything is read or written: a folder, a
 * device or FIFO (a rename would replace it; /proc entries never finish), a path whose folder is
 * missing, and any file a checkpoint owns (its weights, meta.json, anything under `.ganglion`).
 */
async function checkExportTarget(out: string): Promise<void> {
  const path = resolve(out);
  const folder = dirname(path);
  const refuse = (problem: string): never => {
    throw new UsageError(`--out ${JSON.stringify(out)}: ${problem}`);
  };
  if (path.split(sep).includes('.ganglion'))
    refuse('is inside a .ganglion folder, which belongs to a checkpoint; export to another file');
  const target = statOrUndefined(path, refuse);
  if (target?.isDirectory()) refuse('is a folder; give the path of the .onnx file to write (e.g. model.onnx)');
  if (target && !target.isFile()) refuse('is not a regular file (a device, FIFO or socket); refusing to replace it');
  const parent = statOrUndefined(folder, refuse);
  if (!parent) refuse(`the folder "${folder}" does not exist`);
  if (!parent!.isDirectory()) refuse(`"${folder}" is not a folder`);
  // Kernel file systems: /proc and /sys take no new files (and their entries stream without end);
  // a file in /dev would sit among the devices.
  const real = realpathSync(folder);
  if (['/proc', '/sys', '/dev'].some((d) => real === d || real.startsWith(`${d}/`)))
    refuse(`"${real}" is a system folder, not a place for a model`);
  // A meta.json that is not a regular file (a FIFO would block the read) makes no checkpoint.
  const meta = statOrUndefined(join(folder, CHECKPOINT_FILES.meta), refuse);
  if (
    isCheckpointFile(basename(path)) &&
    (!meta || meta.isFile()) &&
    (await checkpointDirStatus(folder)).kind === 'checkpoint'
  ) {
    refuse(
      `is the checkpoint's own ${basename(path)} in "${folder}"; export to another file (e.g. ${join(folder, 'model.onnx')})`,
    );
  }
}

function statOrUndefined(path: string, refuse: (problem: string) => never): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return refuse('a part of this path is a file, not a folder');
    return refuse(`cannot be checked (${(e as Error).message})`);
  }
}

export async function runExport(s: ExportSettings): Promise<{ path: string; inputs: string[]; outputs: string[] }> {
  await checkExportTarget(s.out);
  const { checkpoint, tokenizer } = await loadModel(s.dir, await createBackend('reference'));
  const model = writeOnnxFile(resolve(s.out), checkpoint.graph, checkpoint.params, {
    opset: s.opset,
    outputs: ['logits'],
    inputs: { ids: ['batch', 'time'] },
    stateful: s.stateful,
    maxPositions: s.maxPositions,
    metadata: {
      [VOCAB_METADATA_KEY]: JSON.stringify(tokenizer.toJSON()),
      'ganglion.preset': String(checkpoint.meta.preset ?? ''),
      'ganglion.step': String(checkpoint.meta.step),
    },
  });
  const describe = (v: { name: string; shape: readonly (number | string)[]; dtype: string }) =>
    `${v.name} [${v.shape.join(', ')}] ${v.dtype}`;
  return { path: resolve(s.out), inputs: model.inputs.map(describe), outputs: model.outputs.map(describe) };
}

export async function exportCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, EXPORT_FLAGS, 'export');
  if (values.help) {
    io.stdout.write(`${EXPORT_HELP}\n`);
    return;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      `expected one checkpoint directory, got ${positionals.length} arguments (see ganglion export --help)`,
    );
  if (typeof values.out !== 'string')
    throw new UsageError('--out: the path of the .onnx file to write is required (see ganglion export --help)');
  const settings = {
    dir: positionals[0],
    out: values.out,
    opset: num('opset', values.opset, 17, { min: 17, max: 26, integer: true }),
    stateful: Boolean(values.stateful),
    maxPositions:
      values['max-positions'] === undefined
        ? undefined
        : num('max-positions', values['max-positions'], 4096, { min: 1, integer: true }),
  };
  const r = await runExport(settings);
  io.stdout.write(`wrote ${r.path}\n  inputs:  ${r.inputs.join(', ')}\n  outputs: ${r.outputs.join(', ')}\n`);
}
