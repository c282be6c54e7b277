// ganglion fill-mask: the most likely tokens at each [MASK] of a text, from a masked-language
// model (ganglion train --preset bert-mini). The text is read as the model was trained on it, one
// window `[CLS] text [SEP]`; one forward pass scores every masked position at once (the other
// masks stay masked while each is predicted, as in Hugging Face's fill-mask pipeline).
import { type Tensor, TokenizerError, tensor, tidy } from '@ganglion/core';
import { type FlagSpec, UsageError, num, oneOf, parse } from '../args.js';
import { loadModel } from '../checkpoint-io.js';
import { createBackend } from '../container.js';
import { isMaskedLm, mlmContext, mlmSpecialIds } from '../mlm.js';

const FILL_MASK_BACKENDS = ['tfjs-wasm', 'tfjs', 'reference'] as const;

const FILL_MASK_FLAGS: FlagSpec = {
  text: { type: 'string' },
  'top-k': { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const FILL_MASK_HELP = `usage: ganglion fill-mask CKPT --text TEXT [--top-k K] [--backend ${FILL_MASK_BACKENDS.join('|')}] [--json]
Prints the K most likely tokens (default 5) at each [MASK] in TEXT, with their probabilities (over
the whole vocabulary; special tokens and <unk>, which training never asks for, are not listed), from
the masked-language model in CKPT (one \`ganglion train --preset bert-mini\` made), then TEXT with the
most likely token at each [MASK]. The model reads TEXT as one window, [CLS] TEXT [SEP], at most its
context long; every [MASK] is predicted from all the text around it. --json prints one object:
{ "text", "filled", "masks": [{ "position", "predictions": [{ "token", "id", "probability" }] }] }.
--backend: tfjs-wasm (the default), tfjs or reference runs the model in the framework.`;

export interface FillMaskSettings {
  readonly dir: string;
  readonly text: string;
  readonly topK: number;
  readonly backend: (typeof FILL_MASK_BACKENDS)[number];
  readonly json: boolean;
}

export interface Prediction {
  readonly token: string;
  readonly id: number;
  readonly probability: number;
}

export interface FillMaskResult {
  readonly text: string;
  /** The text with each [MASK] replaced by its most likely token. */
  readonly filled: string;
  /** Per [MASK], in order: its token position in the text, and the top K predictions. */
  readonly masks: readonly { readonly position: number; readonly predictions: readonly Prediction[] }[];
}

function fillMaskSettings(argv: readonly string[]): FillMaskSettings | 'help' {
  const { values, positionals } = parse(argv, FILL_MASK_FLAGS, 'fill-mask');
  if (values.help) return 'help';
  if (positionals.length !== 1)
    throw new UsageError(`expected one checkpoint directory, got ${positionals.length} arguments\n${FILL_MASK_HELP}`);
  if (typeof values.text !== 'string')
    throw new UsageError('--text is required: the text with [MASK] where a token is to be filled in');
  if (!values.text.includes('[MASK]'))
    throw new UsageError(
      `--text has no [MASK]: write [MASK] where a token is to be filled in, e.g. --text "The [MASK] whale"`,
    );
  return {
    dir: positionals[0],
    text: values.text,
    topK: num('top-k', values['top-k'], 5, { min: 1, integer: true }),
    backend: oneOf('backend', values.backend, FILL_MASK_BACKENDS, 'tfjs-wasm'),
    json: Boolean(values.json),
  };
}

/** The top-K tokens at each [MASK] of `s.text`. */
async function runFillMask(s: FillMaskSettings): Promise<FillMaskResult> {
  const model = await loadModel(s.dir, await createBackend(s.backend));
  const { checkpoint, tokenizer } = model;
  if (!isMaskedLm(checkpoint.meta))
    throw new UsageError(
      `${s.dir} is not a masked-language model (meta.json: preset ${String(checkpoint.meta.preset ?? 'unknown')}); fill-mask needs a checkpoint trained with --preset bert-mini`,
    );
  const { cls, sep, mask, reserved } = mlmSpecialIds(tokenizer, `${checkpoint.loadedFrom}/tokenizer.json`);
  // Candidates: the tokens training asks the model to predict (never a special or reserved one).
  const never = new Set([cls, sep, mask, ...reserved]);
  const unknown = tokenizer.unknown(s.text);
  if (unknown.length > 0)
    throw new TokenizerError(
      `--text has characters that are not in the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
      unknown,
    );
  const ids = Array.from(tokenizer.encode(s.text));
  const context = mlmContext(checkpoint.graph);
  if (context !== undefined && ids.length + 2 > context)
    throw new UsageError(
      `--text is ${ids.length} tokens; with [CLS] and [SEP] the model reads at most ${context} (${context - 2} tokens of text)`,
    );
  const positions = ids.flatMap((id, i) => (id === mask ? [i] : []));
  const window = [cls, ...ids, sep];
  const vocab = tokenizer.vocabSize;
  const logits = tidy(() => {
    const out: Record<string, Tensor> = model.runtime.forward({
      ids: tensor(window, [1, window.length], 'int32'),
    });
    return out.logits.dataSync();
  });
  const masks = positions.map((position) => {
    // Softmax of the row in float64, then the K largest.
    const row = logits.subarray((position + 1) * vocab, (position + 2) * vocab);
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    const order = Array.from({ length: vocab }, (_, i) => i)
      .filter((i) => !never.has(i))
      .sort((a, b) => row[b] - row[a] || a - b);
    const predictions = order.slice(0, s.topK).map((id) => ({
      token: tokenizer.decode([id]),
      id,
      probability: Math.exp(row[id] - max) / z,
    }));
    return { position, predictions };
  });
  const best = [...ids];
  for (const m of masks) best[m.position] = m.predictions[0].id;
  model.runtime.close();
  return { text: s.text, filled: tokenizer.decode(best), masks };
}

/** A token as printed: as it is, or quoted when it starts or ends with white space (a BPE token's space). */
function shown(token: string): string {
  return /^\S(?:.*\S)?$/su.test(token) ? token : JSON.stringify(token);
}

export async function fillMaskCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const s = fillMaskSettings(argv);
  if (s === 'help') {
    io.stdout.write(`${FILL_MASK_HELP}\n`);
    return;
  }
  const r = await runFillMask(s);
  if (s.json) {
    io.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const lines: string[] = [];
  r.masks.forEach((m, i) => {
    lines.push(`[MASK]${r.masks.length > 1 ? ` ${i + 1} of ${r.masks.length}` : ''} (token ${m.position + 1}):`);
    for (const p of m.predictions) lines.push(`  ${p.probability.toFixed(4)}  ${shown(p.token)}`);
  });
  lines.push(`filled: ${r.filled}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}
