// ganglion export: a checkpoint's language model as an ONNX file (logits from ids, batch and time
// dims free), optionally stateful (state_in.* / state_out.*) so it generates token by token alone,
// optionally with int8 / float16 weights; --eval-text measures what that costs in held-out loss,
// running the written file and the float32 export on the same text in onnxruntime.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CHECKPOINT_FILES, ExportError, type Tokenizer, isCheckpointFile } from '@ganglion/core';
import { checkpointDirStatus } from '@ganglion/core/node';
import {
  type ExportedModel,
  type FeedValue,
  PAST_SEQUENCE_LENGTH,
  POSITION_IDS,
  createSession,
  languageModelExportOptions,
  runSession,
  traceModel,
  writeOnnxFile,
} from '@ganglion/backend-onnx/node';
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { isG2pRunFolder } from '../g2p-train.js';
import { runSeq2SeqExport } from '../g2p-export.js';

export const EXPORT_FLAGS: FlagSpec = {
  out: { type: 'string' },
  opset: { type: 'string' },
  stateful: { type: 'boolean' },
  'max-positions': { type: 'string' },
  quantize: { type: 'string' },
  dtype: { type: 'string' },
  'eval-text': { type: 'string' },
  'eval-context': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const EXPORT_HELP = `usage: ganglion export DIR --out model.onnx [--opset N] [--stateful] [--max-positions N]
                      [--quantize int8] [--dtype float32|float16] [--eval-text FILE [--eval-context N]]
Exports the checkpoint in DIR to ONNX (opset 17..26, default 17). The vocabulary travels in the
model's metadata_props; --stateful adds the recurrent state as inputs/outputs (for a GPT:
position_ids, past_key_values.N.* and present.N.*), so \`ganglion run\` can generate from the file
alone. --max-positions (default 4096): the stream positions a GPT's RoPE tables cover.
--quantize int8: weight matrices and embedding tables as int8 with a float32 scale per output
channel, read by DequantizeLinear (onnxruntime folds it into its MatMul); --dtype float16: the
other large tensors (all of them without --quantize) as float16, widened by a Cast. The model
computes in float32 either way. --eval-text FILE: the held-out loss of the written file and of the
float32 export on FILE's text, in windows of --eval-context tokens (default 128).
A g2p checkpoint (train --preset g2p) exports as two files: --out (the encoder: src, src_mask ->
memory) and its stem + .decoder.onnx (the decoder step, always stateful: tgt_in, memory, src_mask,
position_ids and the state in -> logits and the state out; a Transformer's KV caches as
past_key_values.N.* / present.N.*, an LSTM's h and c as state_in.* / state_out.*), both carrying the
vocabularies; \`ganglion run\` pronounces words from them.`;

export interface ExportSettings {
  readonly dir: string;
  readonly out: string;
  readonly opset: number;
  readonly stateful: boolean;
  readonly maxPositions?: number;
  readonly quantize?: 'int8';
  readonly dtype?: 'float32' | 'float16';
  /** Held-out text to measure the written file's loss on, against the float32 export. */
  readonly evalText?: { readonly path: string; readonly text: string; readonly context: number };
}

export interface ExportResult {
  readonly path: string;
  readonly inputs: string[];
  readonly outputs: string[];
  /** Bytes written, and of the float32 export when the weights were narrowed. */
  readonly bytes: number;
  readonly float32Bytes?: number;
  readonly int8: number;
  readonly float16: number;
  readonly heldOut?: HeldOutLoss;
}

export interface HeldOutLoss {
  readonly tokens: number;
  readonly characters: number;
  /** Mean cross-entropy in nats per token, of the written file and of the float32 export. */
  readonly loss: number;
  readonly float32Loss: number;
}

/**
 * Refuse an --out that would destroy something, before anything is read or written: a folder, a
 * device or FIFO (a rename would replace it; /proc entries never finish), a path whose folder is
 * missing, and any file a checkpoint owns (its weights, meta.json, anything under `.ganglion`).
 */
export async function checkExportTarget(out: string): Promise<void> {
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

export async function runExport(s: ExportSettings): Promise<ExportResult> {
  await checkExportTarget(s.out);
  const { checkpoint, tokenizer } = await loadModel(s.dir, await createBackend('reference'));
  const options = languageModelExportOptions(tokenizer, checkpoint.meta, {
    opset: s.opset,
    stateful: s.stateful,
    maxPositions: s.maxPositions,
  });
  const ids = s.evalText && heldOutIds(tokenizer, s.evalText.path, s.evalText.text);
  const model = writeOnnxFile(resolve(s.out), checkpoint.graph, checkpoint.params, {
    ...options,
    quantize: s.quantize,
    dtype: s.dtype,
  });
  const describe = (v: { name: string; shape: readonly (number | string)[]; dtype: string }) =>
    `${v.name} [${v.shape.join(', ')}] ${v.dtype}`;
  let heldOut: HeldOutLoss | undefined;
  if (s.evalText && ids) {
    const float = model.weights ? traceModel(checkpoint.graph, checkpoint.params, options) : model;
    const context = Math.min(s.evalText.context, s.maxPositions ?? 4096);
    heldOut = {
      tokens: ids.length - 1,
      characters: [...s.evalText.text].length,
      loss: await heldOutLoss(model, ids, context, JSON.stringify(resolve(s.out))),
      float32Loss: model.weights ? await heldOutLoss(float, ids, context, 'the float32 export') : NaN,
    };
  }
  return {
    path: resolve(s.out),
    inputs: model.inputs.map(describe),
    outputs: model.outputs.map(describe),
    bytes: model.bytes.byteLength,
    float32Bytes: model.weights?.float32Bytes,
    int8: model.weights?.int8.length ?? 0,
    float16: model.weights?.float16.length ?? 0,
    heldOut,
  };
}

/** The held-out text as ids, refused when the vocabulary cannot spell it or it is too short. */
function heldOutIds(tokenizer: Tokenizer, path: string, text: string): Int32Array {
  const unknown = tokenizer.unknown(text);
  if (unknown.length > 0)
    throw new UsageError(
      `--eval-text ${JSON.stringify(path)}: ${unknown.length} character(s) are not in the model's vocabulary (first ${JSON.stringify(unknown[0])})`,
    );
  const ids = tokenizer.encode(text);
  if (ids.length < 2)
    throw new UsageError(`--eval-text ${JSON.stringify(path)}: ${ids.length} token(s); at least 2 are needed`);
  return ids;
}

/**
 * Mean next-token cross-entropy (nats) of an exported model over `ids`, in onnxruntime as
 * `ganglion run` opens a file (level 'all'): windows of `context` tokens, each from a fresh state
 * (zeros, empty caches, positions from 0), eight windows a batch; every token but the first is
 * predicted once.
 */
async function heldOutLoss(model: ExportedModel, ids: Int32Array, context: number, name: string): Promise<number> {
  const predicted = ids.length - 1;
  const full = Math.floor(predicted / context);
  const batches: { starts: number[]; time: number }[] = [];
  for (let w = 0; w < full; w += 8)
    batches.push({ starts: Array.from({ length: Math.min(8, full - w) }, (_, k) => (w + k) * context), time: context });
  if (predicted % context > 0) batches.push({ starts: [full * context], time: predicted % context });
  const positions = model.inputs.some((i) => i.name === POSITION_IDS);
  const session = await createSession(model.bytes, name, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  try {
    let total = 0;
    for (const { starts, time } of batches) {
      const rows = [starts.length, time];
      const feeds: Record<string, FeedValue> = {
        ids: { data: starts.flatMap((s) => Array.from(ids.subarray(s, s + time))), shape: rows, dtype: 'int32' },
      };
      if (positions)
        feeds[POSITION_IDS] = { data: starts.flatMap(() => [...Array(time).keys()]), shape: rows, dtype: 'int32' };
      for (const state of model.state) {
        const shape = state.shape.map((d) => (d === 'batch' ? starts.length : d === PAST_SEQUENCE_LENGTH ? 0 : d));
        const free = shape.find((d) => typeof d !== 'number');
        if (free !== undefined)
          throw new ExportError(`${name}: state input "${state.input}" has a free dim "${free}"; cannot start it`);
        const dims = shape as number[];
        feeds[state.input] = { data: new Float32Array(dims.reduce((x, y) => x * y, 1)), shape: dims };
      }
      const logits = (await runSession(session, feeds)).logits;
      const vocab = logits.shape[2];
      starts.forEach((start, b) => {
        for (let t = 0; t < time; t++) {
          const row = logits.data.subarray((b * time + t) * vocab, (b * time + t + 1) * vocab);
          let max = -Infinity;
          for (const v of row) max = Math.max(max, v);
          let sum = 0;
          for (const v of row) sum += Math.exp(v - max);
          total += max + Math.log(sum) - row[ids[start + t + 1]];
        }
      });
    }
    return total / predicted;
  } finally {
    await session.release();
  }
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
  const evalPath = values['eval-text'];
  if (values['eval-context'] !== undefined && evalPath === undefined)
    throw new UsageError('--eval-context: give --eval-text FILE too (the held-out text to measure the loss on)');
  const settings: ExportSettings = {
    dir: positionals[0],
    out: values.out,
    opset: num('opset', values.opset, 17, { min: 17, max: 26, integer: true }),
    stateful: Boolean(values.stateful),
    maxPositions:
      values['max-positions'] === undefined
        ? undefined
        : num('max-positions', values['max-positions'], 4096, { min: 1, integer: true }),
    quantize: values.quantize === undefined ? undefined : oneOf('quantize', values.quantize, ['int8'] as const, 'int8'),
    dtype: oneOf('dtype', values.dtype, ['float32', 'float16'] as const, 'float32'),
    evalText:
      typeof evalPath === 'string'
        ? {
            path: evalPath,
            text: readText(evalPath),
            context: num('eval-context', values['eval-context'], 128, { min: 1, integer: true }),
          }
        : undefined,
  };
  // A g2p checkpoint exports as two files: the encoder and the stateful decoder step (g2p-export.ts).
  if (await isG2pRunFolder(settings.dir)) {
    for (const line of await runSeq2SeqExport(settings)) io.stdout.write(`${line}\n`);
    return;
  }
  const r = await runExport(settings);
  const narrowed = [r.int8 > 0 ? `${r.int8} tensors int8` : '', r.float16 > 0 ? `${r.float16} float16` : '']
    .filter(Boolean)
    .join(', ');
  const size =
    r.float32Bytes === undefined
      ? megabytes(r.bytes)
      : `${megabytes(r.bytes)}, ${(r.bytes / r.float32Bytes).toFixed(3)} of the float32 export's ${megabytes(r.float32Bytes)}${narrowed ? `: ${narrowed}` : ''}`;
  io.stdout.write(`wrote ${r.path} (${size})\n  inputs:  ${r.inputs.join(', ')}\n  outputs: ${r.outputs.join(', ')}\n`);
  const h = r.heldOut;
  if (h) {
    const bpc = (nats: number) => ((nats * h.tokens) / h.characters / Math.LN2).toFixed(4);
    const line = `held-out loss on ${settings.evalText!.path} (${h.tokens} tokens): ${h.loss.toFixed(4)} nats/token, ${bpc(h.loss)} bits/char`;
    io.stdout.write(
      Number.isNaN(h.float32Loss)
        ? `${line}\n`
        : `${line}; float32 export ${h.float32Loss.toFixed(4)} nats/token, ${bpc(h.float32Loss)} bits/char (${signedPercent(h.loss / h.float32Loss - 1)})\n`,
    );
  }
}

const megabytes = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const signedPercent = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(3)}%`;

function readText(path: string): string {
  try {
    if (!statSync(path).isFile()) throw new UsageError(`--eval-text ${JSON.stringify(path)}: not a regular file`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--eval-text ${JSON.stringify(path)}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
}
