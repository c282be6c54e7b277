// Opening a stateful .onnx export for `ganglion run`: every claim the file makes is checked before
// onnxruntime runs it, each failure one line naming the file: that it is a regular file and an ONNX
// model, its metadata (vocabulary, state bindings and numbers, as valid JSON and numbers), its
// `ids` input and `logits` output (as wide as the vocabulary), and external data. A tensor whose
// values live in another file is refused unless allowed, and then read only from beside the model:
// given bytes, onnxruntime would resolve such paths against the current directory.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { ExportError, type Tokenizer } from '@ganglion/core';
import {
  MAX_POSITIONS_METADATA_KEY,
  type OnnxFileInfo,
  STATE_METADATA_KEY,
  type StateBinding,
  VOCAB_METADATA_KEY,
  createSession,
  describeOnnxModel,
} from '@ganglion/backend-onnx/node';
import type * as ort from 'onnxruntime-node';
import { tokenizerRegistry } from './container.js';

export { VOCAB_METADATA_KEY };
/** Metadata key holding the training step the export was made at. */
const STEP_METADATA_KEY = 'ganglion.step';

export interface OpenOnnxFileOptions {
  /** Read tensors stored in external files (only from the model's own folder). */
  readonly allowExternalData?: boolean;
}

export interface OpenedOnnxFile {
  readonly session: ort.InferenceSession;
  readonly tokenizer: Tokenizer;
  readonly bindings: readonly StateBinding[];
  /** Stream positions the file covers (Infinity when it records none). */
  readonly maxPositions: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export async function openOnnxFile(path: string, options: OpenOnnxFileOptions = {}): Promise<OpenedOnnxFile> {
  const name = `"${path}"`;
  const fail = (problem: string): never => {
    throw new ExportError(`${name}: ${problem}`);
  };
  const bytes = readModelBytes(path);
  const info = describeOnnxModel(bytes, name);
  const { metadata } = info;

  const vocab = metadata[VOCAB_METADATA_KEY];
  if (!vocab)
    throw new ExportError(
      `${name} has no "${VOCAB_METADATA_KEY}" in its metadata_props; export it with \`ganglion export\``,
    );
  let tokenizer: Tokenizer | undefined;
  try {
    tokenizer = tokenizerRegistry().fromJSON(
      jsonMetadata(metadata, VOCAB_METADATA_KEY, fail),
      `metadata "${VOCAB_METADATA_KEY}"`,
    );
  } catch (e) {
    if (e instanceof ExportError) throw e;
    fail(`metadata "${VOCAB_METADATA_KEY}": ${(e as Error).message}`);
  }
  const vocabSize = tokenizer!.vocabSize;
  if (!metadata[STATE_METADATA_KEY])
    throw new ExportError(
      `${name} is not a stateful export (no "${STATE_METADATA_KEY}" metadata); export it with \`ganglion export --stateful\``,
    );
  const bindings = stateBindings(jsonMetadata(metadata, STATE_METADATA_KEY, fail), fail);
  const maxPositions = wholeMetadata(metadata, MAX_POSITIONS_METADATA_KEY, 1, fail) ?? Infinity;
  wholeMetadata(metadata, STEP_METADATA_KEY, 0, fail);

  checkPorts(info, bindings, vocabSize, fail);
  const external = info.externalData;
  if (external.length > 0) {
    const first = external[0];
    const which = `tensor ${JSON.stringify(first.tensor)} keeps its values in the external file ${JSON.stringify(first.location)}${external.length > 1 ? ` (and ${external.length - 1} more)` : ''}`;
    if (!options.allowExternalData)
      fail(
        `${which}; Ganglion reads no file a model names unless --allow-external-data is given (and then only from beside the model)`,
      );
    for (const t of external) checkBesideModel(path, t.tensor, t.location, fail);
  }
  // Bytes when the file is self-contained (exactly what was checked above); its path when external
  // data must be found, so onnxruntime resolves it beside the model.
  const session = await createSession(external.length > 0 ? resolve(path) : bytes, name, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 2,
  });
  return { session, tokenizer: tokenizer!, bindings, maxPositions, metadata };
}

function readModelBytes(path: string): Uint8Array {
  try {
    // A FIFO or a device would block or never end: only regular files are models.
    const st = statSync(path);
    if (st.isDirectory()) throw new ExportError(`"${path}" is a folder, not an ONNX model`);
    if (!st.isFile()) throw new ExportError(`"${path}" is not a regular file, so not an ONNX model`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof ExportError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (e as Error).message;
    throw new ExportError(`cannot read ONNX model "${path}": ${reason}`);
  }
}

function jsonMetadata(metadata: Readonly<Record<string, string>>, key: string, fail: (p: string) => never): unknown {
  try {
    return JSON.parse(metadata[key]);
  } catch (e) {
    return fail(`metadata "${key}" is not valid JSON (${(e as Error).message})`);
  }
}

/** A metadata value that must be a whole number >= min, or undefined when absent. */
function wholeMetadata(
  metadata: Readonly<Record<string, string>>,
  key: string,
  min: number,
  fail: (p: string) => never,
): number | undefined {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min)
    fail(`metadata "${key}" is ${JSON.stringify(raw)}, expected a whole number >= ${min}`);
  return v;
}

function stateBindings(json: unknown, fail: (p: string) => never): StateBinding[] {
  const isDim = (d: unknown) => typeof d === 'string' || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
  const ok = (b: unknown): b is StateBinding => {
    const o = b as Record<string, unknown>;
    return (
      o !== null &&
      typeof o === 'object' &&
      typeof o.input === 'string' &&
      typeof o.output === 'string' &&
      Array.isArray(o.shape) &&
      o.shape.every(isDim) &&
      (o.dtype === undefined || typeof o.dtype === 'string')
    );
  };
  if (!Array.isArray(json)) return fail(`metadata "${STATE_METADATA_KEY}" is not a list of state bindings`);
  const bad = json.findIndex((b) => !ok(b));
  if (bad >= 0)
    fail(
      `metadata "${STATE_METADATA_KEY}": entry ${bad} is ${JSON.stringify(json[bad])}, expected { input, output, shape (numbers or names) }`,
    );
  return json as StateBinding[];
}

function checkPorts(
  info: OnnxFileInfo,
  bindings: readonly StateBinding[],
  vocabSize: number,
  fail: (p: string) => never,
): void {
  const inputs = new Set(info.inputs.map((i) => i.name));
  const outputs = new Set(info.outputs.map((o) => o.name));
  const list = (s: Set<string>) => [...s].join(', ') || 'none';
  if (!inputs.has('ids')) fail(`the model has no "ids" input (inputs: ${list(inputs)})`);
  const logits = info.outputs.find((o) => o.name === 'logits');
  if (!logits) return fail(`the model has no "logits" output (outputs: ${list(outputs)})`);
  const width = logits.shape[logits.shape.length - 1];
  if (logits.shape.length !== 3)
    fail(
      `output "logits" has ${logits.shape.length} dims [${logits.shape.join(', ')}], expected [batch, time, vocabulary]`,
    );
  if (typeof width !== 'number')
    fail(
      `output "logits" has no fixed width (last dim ${JSON.stringify(width)}), so it cannot be checked against the ${vocabSize}-token vocabulary in its metadata`,
    );
  if (width !== vocabSize)
    fail(`output "logits" is ${width} wide, but the vocabulary in its metadata has ${vocabSize} tokens`);
  for (const b of bindings) {
    if (!inputs.has(b.input))
      fail(
        `state input "${b.input}" (metadata "${STATE_METADATA_KEY}") is not a model input (inputs: ${list(inputs)})`,
      );
    if (!outputs.has(b.output))
      fail(
        `state output "${b.output}" (metadata "${STATE_METADATA_KEY}") is not a model output (outputs: ${list(outputs)})`,
      );
  }
}

/** An external-data location must name a file inside the model's folder (no absolute path, no `..`, no link out). */
function checkBesideModel(path: string, tensor: string, location: string, fail: (p: string) => never): void {
  const where = `tensor ${JSON.stringify(tensor)}: external file ${JSON.stringify(location)}`;
  if (location === '' || isAbsolute(location) || location.split(/[\\/]/).includes('..'))
    fail(`${where} is not a plain name beside the model; refusing to read it`);
  const folder = realpathSync(dirname(resolve(path)));
  let real: string;
  try {
    real = realpathSync(resolve(folder, location));
  } catch {
    return fail(`${where} is not beside the model (no ${resolve(folder, location)})`);
  }
  if (!real.startsWith(folder + sep))
    fail(`${where} leads out of the model's folder (to ${real}); refusing to read it`);
}
