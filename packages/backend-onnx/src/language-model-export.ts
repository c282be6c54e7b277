// What an exported language model carries besides its graph, written in one place for every
// exporter (`ganglion export`, the web page's download): the logits output from `ids`, and the
// tokenizer, preset and step as metadata_props, so `ganglion run model.onnx` can read and write
// text with the file alone.
import type { Tokenizer } from '@ganglion/core';
import type { ExportOptions } from './export.js';

/** metadata_props key of the tokenizer's JSON in an exported language model. */
export const VOCAB_METADATA_KEY = 'ganglion.tokenizer';

export interface LanguageModelExportOptions {
  /** State inputs and outputs (LSTM h/c, the KV cache), for generation token by token. */
  readonly stateful?: boolean;
  readonly opset?: number;
  /** The longest stream a stateful export serves (its position table's rows). */
  readonly maxPositions?: number;
}

/**
 * Export options for a language model (inputs `ids` [batch, time], output `logits`) with its
 * tokenizer, preset and step in the metadata.
 *
 *   const bytes = exportOnnx(graph, params, languageModelExportOptions(tokenizer, { step: 20 }, { stateful: true }));
 */
export function languageModelExportOptions(
  tokenizer: Pick<Tokenizer, 'toJSON'>,
  meta: { readonly step: number; readonly preset?: unknown },
  options: LanguageModelExportOptions = {},
): ExportOptions {
  return {
    opset: options.opset,
    outputs: ['logits'],
    inputs: { ids: ['batch', 'time'] },
    stateful: options.stateful,
    maxPositions: options.maxPositions,
    metadata: {
      [VOCAB_METADATA_KEY]: JSON.stringify(tokenizer.toJSON()),
      'ganglion.preset': String(meta.preset ?? ''),
      'ganglion.step': String(meta.step),
    },
  };
}
