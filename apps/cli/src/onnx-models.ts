// Token models on onnxruntime: a checkpoint's graph run by OnnxRuntimeRunner (`generate --backend
// onnx`), and a stateful .onnx file on its own (`ganglion run`), its vocabulary and state bindings
// read from the file's metadata_props.
import { ShapeError, type TokenModel, type Tokenizer, lastRow } from '@ganglion/core';
import { type OrtValue, PAST_SEQUENCE_LENGTH, POSITION_IDS, runSession } from '@ganglion/backend-onnx/node';
import { type OpenOnnxFileOptions, openOnnxFile } from './onnx-file.js';

export { VOCAB_METADATA_KEY } from './onnx-file.js';
export { runnerModel } from '@ganglion/backend-onnx/node';

export interface OnnxFileModel {
  readonly tokenizer: Tokenizer;
  readonly model: TokenModel;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * A stateful export on its own: feeds ids and state_in.*, carries state_out.* to the next step.
 * The file is checked first (openOnnxFile): every problem is one ExportError naming it.
 */
export async function loadOnnxFile(path: string, options: OpenOnnxFileOptions = {}): Promise<OnnxFileModel> {
  const { session, tokenizer, bindings, maxPositions, metadata } = await openOnnxFile(path, options);
  const positioned = session.inputNames.includes(POSITION_IDS);
  let state: Record<string, OrtValue> | undefined;
  const model: TokenModel = {
    reset: () => {
      state = undefined;
    },
    next: async (ids, position) => {
      if (position + ids.length > maxPositions) {
        throw new ShapeError(
          `"${path}" covers stream positions 0..${maxPositions - 1}, but this step needs up to ${position + ids.length - 1}: export with a larger --max-positions`,
        );
      }
      const feeds: Record<string, OrtValue> = { ids: { data: ids, shape: [1, ids.length], dtype: 'int32' } };
      // Position-dependent models (RoPE, position embeddings) take the tokens' stream positions.
      if (positioned)
        feeds[POSITION_IDS] = {
          data: Int32Array.from(ids, (_, k) => position + k),
          shape: [1, ids.length],
          dtype: 'int32',
        };
      for (const b of bindings) {
        // Batch 1; an attention cache starts empty.
        const shape = b.shape.map((d) => (typeof d === 'number' ? d : d === PAST_SEQUENCE_LENGTH ? 0 : 1));
        feeds[b.input] = state?.[b.output] ?? {
          data: new Float32Array(shape.reduce((x, y) => x * y, 1)),
          shape,
          dtype: 'float32',
        };
      }
      const out = await runSession(session, feeds);
      state = out;
      return lastRow(out.logits.data as Float32Array, out.logits.shape[2]);
    },
  };
  return { tokenizer, model, metadata };
}
