// The two ways a trained g2p encoder–decoder runs (g2p.ts's Seq2SeqEngine), and its ONNX export:
//   - the framework: the encoder graph and the decoder-step graph of @ganglion/layers over the
//     checkpoint's parameters, the decoder's state (KV caches, LSTM h/c) carried by its runtime
//     and reordered by core's `runtimeDecoder`;
//   - onnxruntime: an encoder file (src, src_mask -> memory) and a stateful decoder-step file
//     (tgt_in [rows, 1], memory, src_mask, position_ids, and the state bindings of its metadata
//     -> logits and the next state), the state, memory and mask reordered here, row by row.
// `traceSeq2Seq` makes the two ONNX models (in memory: `translate --backend onnx` and training's
// validation run them directly; `export` writes them); `openSeq2SeqFiles` opens a written pair for
// `ganglion run`, checking what each file claims before onnxruntime runs it. The encoder file
// names its decoder (`ganglion.seq2seq.decoder`), which must sit beside it.
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  type Backend,
  ExportError,
  type ParamStore,
  Runtime,
  keep,
  runtimeDecoder,
  tensor,
  tidy,
} from '@ganglion/core';
import {
  type ExportOptions,
  type ExportedModel,
  type FeedValue,
  type OrtValue,
  PAST_SEQUENCE_LENGTH,
  POSITION_IDS,
  STATE_METADATA_KEY,
  type StateBinding,
  createSession,
  describeOnnxModel,
  runSession,
  traceModel,
} from '@ganglion/backend-onnx/node';
import { decoderStepGraph, encoderGraph, memoryWidth } from '@ganglion/layers';
import type * as ort from 'onnxruntime-node';
import {
  G2P_META_KEY,
  type G2pModel,
  type Seq2SeqDecoder,
  type Seq2SeqEngine,
  g2pModelFrom,
  g2pModelJson,
} from './g2p.js';

/** Metadata key of the exported g2p model (a G2pModel's JSON), in both files. */
const G2P_METADATA_KEY = `ganglion.${G2P_META_KEY}`;
/** Metadata key, in the encoder file, naming the decoder-step file beside it. */
const DECODER_METADATA_KEY = 'ganglion.seq2seq.decoder';
/** Metadata key saying which half a file is: 'encoder' or 'decoder'. */
const ROLE_METADATA_KEY = 'ganglion.seq2seq.role';

/**
 * The framework's runtime as an engine: the encoder runs once per batch, the decoder-step graph
 * one token per streaming wave, both over `params` (the training graph's).
 */
export function frameworkEngine(m: G2pModel, params: ParamStore, backend: Backend): Seq2SeqEngine {
  const enc = new Runtime(encoderGraph(m.model), { params, backend });
  const dec = new Runtime(decoderStepGraph(m.model), { params, backend });
  return {
    start: async (src, mask, rows, time) => {
      const feeds = tidy(() => {
        const srcMask = keep(tensor(mask, [rows, time], 'float32', backend));
        const { memory } = enc.forward({ src: tensor(src, [rows, time], 'int32', backend), src_mask: srcMask });
        return { memory: keep(memory), src_mask: srcMask };
      });
      dec.resetState();
      const decoder = runtimeDecoder(dec, { input: 'tgt_in', feeds });
      return {
        step: (tokens) => decoder.step(tokens),
        reorder: (r) => decoder.reorder(r),
        dispose: () => {
          decoder.dispose();
          for (const t of Object.values(feeds)) t.dispose();
          dec.resetState();
        },
      };
    },
    close: async () => {
      enc.close();
      dec.close();
    },
  };
}

export interface Seq2SeqExport {
  readonly encoder: ExportedModel;
  readonly decoder: ExportedModel;
}

/**
 * The encoder and the stateful decoder step as ONNX models. `options` adds metadata, weight storage
 * (quantize, dtype) and the opset; the vocabularies and options travel in both files' metadata.
 */
export function traceSeq2Seq(
  m: G2pModel,
  params: ParamStore,
  options: Pick<ExportOptions, 'opset' | 'quantize' | 'dtype' | 'metadata'> & { readonly decoderFile?: string } = {},
): Seq2SeqExport {
  const metadata = { ...options.metadata, [G2P_METADATA_KEY]: JSON.stringify(g2pModelJson(m)) };
  // Positions: a word's letters, a pronunciation's phonemes and its start token.
  const maxPositions = Math.max(m.maxSourceLength, m.maxTargetLength + 1);
  const common = { opset: options.opset, quantize: options.quantize, dtype: options.dtype, maxPositions };
  const encoder = traceModel(encoderGraph(m.model), params, {
    ...common,
    inputs: { src: ['batch', 'src_time'], src_mask: ['batch', 'src_time'] },
    metadata: {
      ...metadata,
      [ROLE_METADATA_KEY]: 'encoder',
      ...(options.decoderFile ? { [DECODER_METADATA_KEY]: options.decoderFile } : {}),
    },
    graphName: 'g2p_encoder',
  });
  const decoder = traceModel(decoderStepGraph(m.model), params, {
    ...common,
    stateful: true,
    inputs: {
      tgt_in: ['batch', 1],
      memory: ['batch', 'src_time', memoryWidth(m.model)],
      src_mask: ['batch', 'src_time'],
    },
    metadata: { ...metadata, [ROLE_METADATA_KEY]: 'decoder' },
    graphName: 'g2p_decoder_step',
  });
  return { encoder, decoder };
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 2 };

/** onnxruntime as an engine, over an encoder and a decoder-step model (bytes or paths) and the decoder's state bindings. */
export async function onnxEngine(
  encoderModel: Uint8Array | string,
  decoderModel: Uint8Array | string,
  bindings: readonly StateBinding[],
  names: { readonly encoder: string; readonly decoder: string } = { encoder: 'the encoder', decoder: 'the decoder' },
): Promise<Seq2SeqEngine> {
  const encoder = await createSession(encoderModel, names.encoder, SESSION_OPTIONS);
  const decoder = await createSession(decoderModel, names.decoder, SESSION_OPTIONS);
  const positioned = decoder.inputNames.includes(POSITION_IDS);
  return {
    start: async (src, mask, rows, time) => {
      const { memory } = await runSession(encoder, {
        src: { data: src, shape: [rows, time], dtype: 'int32' },
        src_mask: { data: mask, shape: [rows, time], dtype: 'float32' },
      });
      // The decoder's inputs that travel with the rows: the memory, the mask and the state.
      let carried: Record<string, OrtValue> = {
        memory,
        src_mask: { data: mask, shape: [rows, time], dtype: 'float32' },
      };
      for (const b of bindings) {
        const shape = b.shape.map((d) => (d === 'batch' ? rows : d === PAST_SEQUENCE_LENGTH ? 0 : d));
        if (!shape.every((d) => typeof d === 'number'))
          throw new ExportError(`${names.decoder}: state input "${b.input}" has a free dim; cannot start it`);
        const dims = shape as number[];
        carried[b.input] = { data: new Float32Array(dims.reduce((x, y) => x * y, 1)), shape: dims, dtype: 'float32' };
      }
      let position = 0;
      return {
        step: async (tokens) => {
          const n = tokens.length;
          const feeds: Record<string, FeedValue> = {
            ...carried,
            tgt_in: { data: tokens, shape: [n, 1], dtype: 'int32' },
          };
          if (positioned)
            feeds[POSITION_IDS] = { data: new Int32Array(n).fill(position), shape: [n, 1], dtype: 'int32' };
          const out = await runSession(decoder, feeds);
          position++;
          for (const b of bindings) carried[b.input] = out[b.output];
          return out.logits.data as Float32Array;
        },
        reorder: (order) => {
          carried = Object.fromEntries(Object.entries(carried).map(([k, v]) => [k, gatherRows(v, order)]));
        },
        dispose: () => {
          carried = {};
        },
      } satisfies Seq2SeqDecoder;
    },
    close: async () => {
      await encoder.release();
      await decoder.release();
    },
  };
}

/** Rows `order` of a batch-first value. */
function gatherRows(v: OrtValue, order: Int32Array): OrtValue {
  const width = v.shape.slice(1).reduce((x, y) => x * y, 1);
  const data = new (v.data.constructor as Float32ArrayConstructor)(order.length * width);
  order.forEach((r, i) => data.set((v.data as Float32Array).subarray(r * width, (r + 1) * width), i * width));
  return { data, shape: [order.length, ...v.shape.slice(1)], dtype: v.dtype };
}

/** The names of the two files `export --out PATH` writes: PATH (the encoder) and PATH's stem + `.decoder.onnx`. */
export function seq2seqFileNames(out: string): { encoder: string; decoder: string } {
  const stem = out.endsWith('.onnx') ? out.slice(0, -'.onnx'.length) : out;
  return { encoder: out, decoder: `${stem}.decoder.onnx` };
}

/** Whether `path` is a g2p export (either half), from its metadata; false for anything else, unreadable included. */
export function isSeq2SeqFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    return describeOnnxModel(readFileSync(path), `"${path}"`).metadata[ROLE_METADATA_KEY] !== undefined;
  } catch {
    return false;
  }
}

export interface OpenedSeq2SeqFiles {
  readonly model: G2pModel;
  readonly engine: Seq2SeqEngine;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Open an exported g2p pair from its encoder file (`ganglion export` wrote PATH and PATH's
 * `.decoder.onnx`), each claim checked first: one ExportError naming the file for each problem.
 */
export async function openSeq2SeqFiles(path: string): Promise<OpenedSeq2SeqFiles> {
  const name = `"${path}"`;
  const fail = (file: string, problem: string): never => {
    throw new ExportError(`"${file}": ${problem}`);
  };
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(file, code === 'ENOENT' ? 'no such file' : (e as Error).message);
    }
  };
  const encoderBytes = read(path);
  const encoderInfo = describeOnnxModel(encoderBytes, name);
  const role = encoderInfo.metadata[ROLE_METADATA_KEY];
  if (role !== 'encoder') {
    const encoder = role === 'decoder' ? 'the encoder file beside it (the path given to ganglion export --out)' : '';
    fail(
      path,
      role === 'decoder' ? `is the decoder half of a g2p export; run ${encoder}` : 'is not a g2p encoder export',
    );
  }
  const decoderName = encoderInfo.metadata[DECODER_METADATA_KEY];
  if (!decoderName || decoderName !== basename(decoderName) || decoderName === '..')
    fail(
      path,
      `metadata "${DECODER_METADATA_KEY}" must name the decoder file beside it, got ${JSON.stringify(decoderName)}`,
    );
  const decoderPath = join(dirname(path), decoderName);
  const decoderBytes = read(decoderPath);
  const decoderInfo = describeOnnxModel(decoderBytes, `"${decoderPath}"`);
  if (decoderInfo.metadata[ROLE_METADATA_KEY] !== 'decoder') fail(decoderPath, 'is not a g2p decoder-step export');
  for (const [file, info] of [
    [path, encoderInfo],
    [decoderPath, decoderInfo],
  ] as const)
    if (info.externalData.length > 0) fail(file, 'keeps tensors in external files; a g2p export is self-contained');
  const json = (file: string, meta: Readonly<Record<string, string>>, key: string): unknown => {
    try {
      return JSON.parse(meta[key] ?? 'null');
    } catch (e) {
      return fail(file, `metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };
  const model = g2pModelFrom(json(path, encoderInfo.metadata, G2P_METADATA_KEY), name);
  if (decoderInfo.metadata[G2P_METADATA_KEY] !== encoderInfo.metadata[G2P_METADATA_KEY])
    fail(
      decoderPath,
      `its model (metadata "${G2P_METADATA_KEY}") is not the encoder's (${name}); export the pair again`,
    );
  const bindings = json(decoderPath, decoderInfo.metadata, STATE_METADATA_KEY) as StateBinding[];
  if (!Array.isArray(bindings)) fail(decoderPath, `metadata "${STATE_METADATA_KEY}" must list the state bindings`);
  const has = (ports: readonly { name: string }[], n: string) => ports.some((p) => p.name === n);
  for (const input of ['src', 'src_mask'])
    if (!has(encoderInfo.inputs, input)) fail(path, `the encoder has no "${input}" input`);
  if (!has(encoderInfo.outputs, 'memory')) fail(path, 'the encoder has no "memory" output');
  for (const input of ['tgt_in', 'memory', 'src_mask', ...bindings.map((b) => b.input)])
    if (!has(decoderInfo.inputs, input)) fail(decoderPath, `the decoder has no "${input}" input`);
  const logits = decoderInfo.outputs.find((o) => o.name === 'logits');
  if (!logits || logits.shape.at(-1) !== model.phonemes.size)
    fail(decoderPath, `output "logits" must be ${model.phonemes.size} wide (the phonemes in its metadata)`);
  for (const b of bindings)
    if (!has(decoderInfo.outputs, b.output)) fail(decoderPath, `state output "${b.output}" is missing`);
  const engine = await onnxEngine(encoderBytes, decoderBytes, bindings, { encoder: name, decoder: `"${decoderPath}"` });
  return { model, engine, metadata: encoderInfo.metadata };
}
