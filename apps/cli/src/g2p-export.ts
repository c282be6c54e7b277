// `ganglion export` of a g2p checkpoint: two ONNX files, written atomically. --out PATH is the
// encoder (src, src_mask -> memory); PATH's stem + `.decoder.onnx` is the decoder step, stateful
// (tgt_in [rows, 1], memory, src_mask, position_ids and the state in -> logits and the state out:
// a Transformer's KV caches as past_key_values.N.* / present.N.*, an LSTM's h, c as
// state_in.* / state_out.*). Both carry the model's options and vocabularies in their metadata, and
// the encoder names its decoder, so `ganglion run PATH` decodes with nothing but the two files.
import { basename, resolve } from 'node:path';
import { writeFileAtomically } from '@ganglion/core/node';
import { UsageError } from './args.js';
import { type ExportSettings, checkExportTarget } from './commands/export.js';
import { createBackend } from './container.js';
import { loadG2pCheckpoint } from './g2p-train.js';
import { seq2seqFileNames, traceSeq2Seq } from './seq2seq-engines.js';

/** Export the g2p checkpoint `s.dir` to `s.out` and its decoder file; the lines to print. */
export async function runSeq2SeqExport(s: ExportSettings): Promise<string[]> {
  if (s.evalText)
    throw new UsageError('--eval-text: a g2p model reads words, not text; measure it with ganglion train --preset g2p');
  if (s.maxPositions !== undefined)
    throw new UsageError(
      '--max-positions: a g2p export covers the positions of the longest word and pronunciation it was trained on',
    );
  const names = seq2seqFileNames(resolve(s.out));
  await checkExportTarget(names.encoder);
  await checkExportTarget(names.decoder);
  const { checkpoint, model } = await loadG2pCheckpoint(s.dir, await createBackend('reference'));
  const { encoder, decoder } = traceSeq2Seq(model, checkpoint.params, {
    opset: s.opset,
    quantize: s.quantize,
    dtype: s.dtype,
    decoderFile: basename(names.decoder),
    metadata: {
      'ganglion.preset': String(checkpoint.meta.preset ?? ''),
      'ganglion.step': String(checkpoint.meta.step),
    },
  });
  await writeFileAtomically(names.decoder, decoder.bytes);
  await writeFileAtomically(names.encoder, encoder.bytes);
  const describe = (v: { name: string; shape: readonly (number | string)[]; dtype: string }) =>
    `${v.name} [${v.shape.join(', ')}] ${v.dtype}`;
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  return [
    `wrote ${names.encoder} (the encoder, ${mb(encoder.bytes.byteLength)})`,
    `  inputs:  ${encoder.inputs.map(describe).join(', ')}`,
    `  outputs: ${encoder.outputs.map(describe).join(', ')}`,
    `wrote ${names.decoder} (the decoder step, stateful, ${mb(decoder.bytes.byteLength)})`,
    `  inputs:  ${decoder.inputs.map(describe).join(', ')}`,
    `  outputs: ${decoder.outputs.map(describe).join(', ')}`,
    `pronounce words with: ganglion run ${s.out} --text "ganglion" [--beam 5]`,
  ];
}
