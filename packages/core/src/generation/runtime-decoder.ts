// The framework's runtime as a DecoderStep: each step is one streaming wave of one token per row at
// the next stream position, the decoder's state (LSTM h/c, KV caches) carried by the runtime as node
// state, and `reorder` is `runtime.reorderState`. Graph inputs other than the tokens (an encoder's
// memory and its padding mask, a loss's dummy labels) are given once, batch-first, and gathered
// along with the state whenever the rows are reordered.
import { tensor } from '../creation.js';
import { keep, tidy } from '../engine.js';
import { GraphError } from '../errors.js';
import type { Runtime } from '../graph/runtime.js';
import { gather } from '../ops/gather.js';
import { formatShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import type { DecoderStep } from './decoder.js';

export interface RuntimeDecoderOptions {
  /** The graph input the tokens go to, fed [rows, 1] int32. Default 'ids'. */
  readonly input?: string;
  /** The graph output holding the logits, [rows, 1, vocab] or [rows, vocab]. Default 'logits'. */
  readonly output?: string;
  /** The stream position of the first token fed (a prompt's length, when one was fed). Default 0. */
  readonly position?: number;
  /** The other graph inputs, batch-first with one row per sequence, fed at every step. */
  readonly feeds?: Readonly<Record<string, Tensor>>;
}

/** A DecoderStep over a Runtime; `dispose` frees the reordered copies of the feeds it made. */
export interface RuntimeDecoder extends DecoderStep {
  dispose(): void;
}

/**
 * Decode with the framework's runtime. Call `runtime.resetState()` (and feed any prefix) first; the
 * runtime's state must have one row per sequence.
 *
 *   const decoder = runtimeDecoder(runtime, { feeds: { labels: zeros([batch, 1], 'int32') } });
 *   const [nbest] = await beamSearch(decoder, { start: [0], end: 1, maxLength: 20, beam: 4 });
 */
export function runtimeDecoder(runtime: Runtime, opts: RuntimeDecoderOptions = {}): RuntimeDecoder {
  const input = opts.input ?? 'ids';
  const output = opts.output ?? 'logits';
  let position = opts.position ?? 0;
  let feeds: Record<string, Tensor> = { ...opts.feeds };
  let owned: Tensor[] = []; // the gathered feeds, this decoder's to free
  const release = () => {
    for (const t of owned) t.dispose();
    owned = [];
  };
  return {
    step: async (tokens) =>
      tidy(() => {
        const rows = tokens.length;
        const ids = tensor(tokens, [rows, 1], 'int32', runtime.backend);
        const logits = runtime.forward({ ...feeds, [input]: ids }, { stream: true, position })[output];
        if (!logits)
          throw new GraphError(
            `runtimeDecoder: no graph output "${output}" (outputs: ${Object.keys(runtime.graph.outputs).join(', ')})`,
          );
        const fits = logits.shape[0] === rows && (logits.rank === 2 || (logits.rank === 3 && logits.shape[1] === 1));
        if (!fits)
          throw new GraphError(
            `runtimeDecoder: output "${output}" is ${formatShape(logits.shape)} for ${rows} rows of one token, expected [${rows}, 1, vocab] or [${rows}, vocab]`,
          );
        position += 1;
        return logits.dataSync().slice() as Float32Array | Float64Array;
      }),
    reorder: (rows) => {
      runtime.reorderState(rows);
      if (Object.keys(feeds).length === 0) return;
      const next = tidy(() => {
        const indices = tensor(rows, [rows.length], 'int32', runtime.backend);
        return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, keep(gather(t, indices, 0))]));
      });
      release();
      feeds = next;
      owned = Object.values(next);
    },
    dispose: release,
  };
}
