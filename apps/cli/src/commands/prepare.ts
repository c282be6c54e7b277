// ganglion prepare: a corpus (text files, folders of *.txt, .jsonl files, or Moby-Dick) into a data
// folder of token files (train.bin, val.bin, tokenizer.json, meta.json) that `train --data` reads a
// window at a time, with a progress bar on a terminal or JSON events with --json.
import {
  type Corpus,
  type PrepareProgress,
  type PrepareResult,
  checkDataDirWritable,
  corpusFromPaths,
  mobyDick,
  prepareData,
} from '@ganglion/text/node';
import { type FlagSpec, UsageError, num, parseLists } from '../args.js';
import { tokenizerRegistry } from '../container.js';
import { checkTokenizerSpec, describeTokenizer, tokenizerSpecsHelp } from '../tokenizers.js';

const PREPARE_FLAGS: FlagSpec = {
  corpus: { type: 'string', multiple: true },
  tokenizer: { type: 'string' },
  out: { type: 'string' },
  'text-field': { type: 'string' },
  'held-out': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

function prepareHelp(): string {
  const specs = tokenizerSpecsHelp(tokenizerRegistry());
  return `usage: ganglion prepare [--corpus PATH ...] [--tokenizer SPEC] --out DIR [--text-field NAME] [--held-out F] [--json]
Reads a corpus twice and writes DIR/train.bin and val.bin (token ids, little-endian uint16, uint32
past 65,536 ids), tokenizer.json and meta.json, for \`ganglion train --data DIR\`.
--corpus PATH (repeatable; more paths may follow it): a UTF-8 text file, a folder (every *.txt under
it, sorted by path) or a .jsonl file (one JSON object per line, its text in --text-field, default
"text"). Each file or record is a document; documents are separated by the tokenizer's
<|endoftext|> when it has one, else by a blank line. Default: Moby-Dick, its last 5% of chapters held out.
--held-out F (default 0.05, in (0, 0.5)): validation is the last F of the corpus's bytes, from the
first document start or whitespace after a letter or digit at or after that byte.
--tokenizer SPEC (default char), trained on the training text:
${specs}
--out DIR must be new, empty, or hold an earlier prepare's output (which it replaces; until the new
meta.json is in place, the old output stays readable).`;
}

export interface PrepareSettings {
  readonly corpus: readonly string[];
  readonly tokenizer: string;
  readonly out: string;
  readonly textField?: string;
  readonly heldOut?: number;
  readonly json: boolean;
}

function prepareSettings(argv: readonly string[]): PrepareSettings | 'help' {
  const { values, lists, positionals } = parseLists(argv, PREPARE_FLAGS, 'prepare');
  if (values.help) return 'help';
  const corpus = [...lists.corpus, ...positionals];
  if (positionals.length > 0 && lists.corpus.length === 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}; name a corpus with --corpus PATH`);
  if (typeof values.out !== 'string' || values.out === '')
    throw new UsageError('--out: give the folder to write (e.g. --out data/moby)');
  const heldOut =
    values['held-out'] === undefined
      ? undefined
      : num('held-out', values['held-out'], 0.05, { min: 0, exclusiveMin: true });
  if (heldOut !== undefined && heldOut >= 0.5)
    throw new UsageError(`--held-out: expected a number > 0 and < 0.5, got ${JSON.stringify(values['held-out'])}`);
  const textField = values['text-field'] as string | undefined;
  if (textField !== undefined && textField === '') throw new UsageError('--text-field: expected a field name, got ""');
  const tokenizer = (values.tokenizer as string | undefined) ?? 'char';
  return { corpus, tokenizer, out: values.out, textField, heldOut, json: Boolean(values.json) };
}

type Io = { stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number } };

const MB = (bytes: number) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);
const count = (n: number) => n.toLocaleString('en-US');
const PASSES = { 1: 'training the tokenizer', 2: 'encoding' } as const;

/** Progress of the two passes: a bar redrawn on a terminal, a line per pass otherwise, or JSON events. */
class PrepareView {
  private readonly started = Date.now();
  private passStarted = Date.now();
  private pass: 1 | 2 = 1;
  private last = 0;
  private drawn = false;

  constructor(
    private readonly io: Io,
    private readonly json: boolean,
  ) {}

  progress(p: PrepareProgress): void {
    if (p.pass !== this.pass) {
      this.passDone(this.pass, p.totalBytes);
      this.pass = p.pass;
      this.passStarted = Date.now();
    }
    const now = Date.now();
    const final = p.bytes === p.totalBytes;
    if (!final && now - this.last < (this.json ? 500 : 100)) return;
    this.last = now;
    if (this.json) {
      this.line(JSON.stringify({ event: 'progress', pass: p.pass, bytes: p.bytes, totalBytes: p.totalBytes }));
    } else if (this.io.stdout.isTTY) {
      const f = p.totalBytes > 0 ? p.bytes / p.totalBytes : 1;
      const seconds = (now - this.passStarted) / 1000;
      const eta = f > 0 ? (seconds * (1 - f)) / f : Infinity;
      const width = 24;
      const filled = Math.round(f * width);
      const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
      const line = `pass ${p.pass}/2 ${PASSES[p.pass]} [${bar}] ${(f * 100).toFixed(0).padStart(3)}% | ${MB(p.bytes)}/${MB(p.totalBytes)} | ETA ${Number.isFinite(eta) ? `${Math.round(eta)}s` : '?'}`;
      this.io.stdout.write(`\r\x1b[K${line.slice(0, (this.io.stdout.columns ?? 120) - 1)}`);
      this.drawn = true;
    }
  }

  passDone(pass: 1 | 2, totalBytes: number): void {
    if (this.json) return;
    const seconds = ((Date.now() - this.passStarted) / 1000).toFixed(1);
    this.line(`pass ${pass}/2: ${PASSES[pass]}, read ${MB(totalBytes)} in ${seconds}s`);
  }

  done(r: PrepareResult, corpus: Corpus): void {
    const m = r.meta;
    if (this.json) {
      for (const text of r.notes) this.line(JSON.stringify({ event: 'message', text }));
      this.line(
        JSON.stringify({
          event: 'done',
          out: r.dir,
          corpus: m.corpus,
          tokenizer: m.tokenizer.spec,
          vocabSize: m.vocabSize,
          dtype: m.dtype,
          train: { tokens: m.train.tokens, characters: m.train.characters, bytes: m.train.bytes },
          validation: { tokens: m.validation.tokens, characters: m.validation.characters, bytes: m.validation.bytes },
          seconds: Number(((Date.now() - this.started) / 1000).toFixed(2)),
        }),
      );
      return;
    }
    this.passDone(
      2,
      corpus.sources.reduce((n, s) => n + s.bytes, 0),
    );
    for (const text of r.notes) this.line(text);
    const split = (name: string, s: typeof m.train) =>
      `  ${name}: ${count(s.tokens)} tokens from ${count(s.characters)} characters (${(s.characters / Math.max(1, s.tokens)).toFixed(2)} per token), ${count(s.documents)} document${s.documents === 1 ? '' : 's'}`;
    this.line(`prepared ${r.dir}: ${m.corpus}; tokenizer ${describeTokenizer(r.tokenizer)}, ids as ${m.dtype}`);
    this.line(split('training', m.train));
    this.line(split('validation', m.validation));
    this.line(
      `  validation starts at byte ${count(m.split.validationStarts.byte)} of ${m.split.validationStarts.where}`,
    );
  }

  private line(text: string): void {
    if (this.drawn) {
      this.io.stdout.write('\r\x1b[K');
      this.drawn = false;
    }
    this.io.stdout.write(`${text}\n`);
  }
}

async function runPrepare(s: PrepareSettings, io: Io): Promise<PrepareResult> {
  // Everything that can be checked before reading the corpus: the folder, the tokenizer's kind.
  try {
    await checkDataDirWritable(s.out);
  } catch (e) {
    throw new UsageError(`--out ${(e as Error).message}`);
  }
  const registry = tokenizerRegistry();
  checkTokenizerSpec(s.tokenizer, registry);
  const corpus =
    s.corpus.length === 0
      ? mobyDick(s.heldOut)
      : await corpusFromPaths(s.corpus, { heldOut: s.heldOut, textField: s.textField });
  const view = new PrepareView(io, s.json);
  const result = await prepareData({
    corpus,
    tokenizer: s.tokenizer,
    out: s.out,
    registry,
    onProgress: (p) => view.progress(p),
  });
  view.done(result, corpus);
  return result;
}

export async function prepareCommand(argv: readonly string[], io: Io): Promise<void> {
  const settings = prepareSettings(argv);
  if (settings === 'help') {
    io.stdout.write(`${prepareHelp()}\n`);
    return;
  }
  await runPrepare(settings, io);
}
