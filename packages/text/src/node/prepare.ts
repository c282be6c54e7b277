// The `prepare` pipeline: a corpus in, a data folder out (train.bin, val.bin, tokenizer.json,
// meta.json). Two passes over the corpus, each streaming it in pieces that never split a
// character or a pre-token: pass 1 finds where validation starts and trains the tokenizer on the
// training text only (plus each character that occurs only in the validation text, once, so that
// a character vocabulary can encode it); pass 2 encodes both splits into token files. Documents
// are separated by the tokenizer's `<|endoftext|>` id when it has one, else by a blank line of
// text. Nothing is written until pass 2, and then only under temporary names: a failure leaves
// the folder as it was.
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CharCounts,
  CharTokenizer,
  type TextFiles,
  type Tokenizer,
  TokenizerError,
  type TokenizerRegistry,
  type TokenizerTrainer,
  parseTokenizerSpec,
  vocabularyCoverage,
} from '@ganglion/core';
import { builtinTokenizers } from '../index.js';
import {
  DATA_FILES,
  DATA_FORMAT,
  DATA_VERSION,
  type DataMeta,
  type SplitMeta,
  checkDataDirWritable,
  commitDataDir,
  openDataDirForWriting,
  removeIfCreated,
} from './data-folder.js';
import { END_OF_TEXT, TEXT_SEPARATOR, type Unit, characters, firstPass, walk } from './first-pass.js';
import { type Corpus, CorpusError } from './sources.js';
import { nodeTextFiles } from './text-files.js';
import { TokenFileWriter, dataDType, tempName } from './token-files.js';

/** How far a pass is: bytes of the corpus read, of `totalBytes`. */
export interface PrepareProgress {
  /** 1: finding the split and training the tokenizer; 2: encoding. */
  readonly pass: 1 | 2;
  readonly bytes: number;
  readonly totalBytes: number;
  /** The source being read. */
  readonly source: string;
}

export interface PrepareOptions {
  /** The text: `await corpusFromPaths([...])` or `mobyDick()`. */
  readonly corpus: Corpus;
  /**
   * A spec, trained on the corpus or opened (`char`, `char:512`, `bpe:8192`, `hf:PATH`), or a
   * ready tokenizer (used as is).
   */
  readonly tokenizer: string | Tokenizer;
  /** The folder to write: new, empty, or an earlier prepare's output. */
  readonly out: string;
  /** Where tokenizer kinds are found. Default: the built-in plugins. */
  readonly registry?: TokenizerRegistry;
  /** Reads the file of `hf:PATH`. Default: the local file system. */
  readonly files?: TextFiles;
  /** Bytes read at a time, and about the size of a piece. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** Called as the corpus is read (often: throttle before drawing). */
  readonly onProgress?: (p: PrepareProgress) => void;
}

export interface PrepareResult {
  /** The folder written. */
  readonly dir: string;
  readonly meta: DataMeta;
  readonly tokenizer: Tokenizer;
  /** Lines worth telling the user (a capped character vocabulary: what maps to the unknown token). */
  readonly notes: readonly string[];
}

/** Counts for one split while pass 2 writes it. */
class SplitWriter {
  documents = 0;
  characters = 0;
  bytes = 0;
  unknownTokens = 0;
  constructor(
    readonly name: 'training' | 'validation',
    readonly file: TokenFileWriter,
  ) {}
}

/**
 * Reads `corpus`, trains or opens the tokenizer, and writes the data folder `out`: the same
 * pipeline `ganglion prepare` runs, and `train --corpus` runs into its run folder.
 *
 *   const corpus = await corpusFromPaths(['books/'], { heldOut: 0.05 });
 *   const { meta } = await prepareData({ corpus, tokenizer: 'bpe:8192', out: 'data/books' });
 *   const data = await openData('data/books', builtinTokenizers);
 */
export async function prepareData(options: PrepareOptions): Promise<PrepareResult> {
  const { corpus, out } = options;
  const registry = options.registry ?? builtinTokenizers;
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1))
    throw new CorpusError(`chunkBytes must be a whole number >= 1, got ${chunkBytes}`);
  const totalBytes = corpus.sources.reduce((n, s) => n + s.bytes, 0);

  // What must hold before any reading: a folder that may be written, a tokenizer kind that exists.
  await checkDataDirWritable(out);
  let spec: string;
  let newTrainer: (() => TokenizerTrainer) | undefined;
  let trainer: TokenizerTrainer | undefined;
  let tokenizer: Tokenizer | undefined;
  if (typeof options.tokenizer === 'string') {
    spec = options.tokenizer;
    const { kind, arg } = parseTokenizerSpec(spec);
    const plugin = registry.plugin(kind);
    if (plugin.trainer) {
      const make = plugin.trainer.bind(plugin);
      newTrainer = () => make(arg);
      // A bad argument (`bpe:x`) fails here, before the corpus is read.
      trainer = newTrainer();
    } else if (plugin.open) {
      if (arg === undefined || arg === '')
        throw new TokenizerError(`tokenizer "${spec}": ${kind} needs an argument (${plugin.description.trim()})`);
      tokenizer = await plugin.open(arg, options.files ?? nodeTextFiles);
    } else throw new TokenizerError(`tokenizer "${spec}": the ${kind} plugin can neither train nor open a tokenizer`);
  } else {
    tokenizer = options.tokenizer;
    spec = tokenizer.kind;
  }

  // Pass 1.
  const progress = (pass: 1 | 2) => (bytes: number, source: string) =>
    options.onProgress?.({ pass, bytes, totalBytes, source });
  const target =
    corpus.heldOut === undefined ? undefined : totalBytes - Math.max(1, Math.round(corpus.heldOut * totalBytes));
  let first = await firstPass(corpus, chunkBytes, target, false, trainer, progress(1));
  if (first.characters === 0)
    throw new CorpusError(
      `corpus ${JSON.stringify(corpus.name)} holds no text: a language model needs text to learn from`,
    );
  if (!first.cut && target !== undefined) {
    // No safe cut after the target byte: cut at the first character there, and train again without the tail.
    trainer = newTrainer?.();
    first = await firstPass(corpus, chunkBytes, target, true, trainer, progress(1));
  }
  const cut = first.cut;
  if (!cut)
    throw new CorpusError(
      `corpus ${JSON.stringify(corpus.name)}: nothing to hold out, the last ${corpus.heldOut} of its bytes holds no text`,
    );
  if (cut.doc === 0 && cut.offset === 0)
    throw new CorpusError(
      `corpus ${JSON.stringify(corpus.name)}: the training split is empty (${first.documents === 1 ? 'one document, which a .jsonl record cannot split' : 'the held-out cut falls before all the text'}); give more text or a smaller --held-out`,
    );
  if (!tokenizer) tokenizer = trainer!.finish();
  const dtype = dataDType(tokenizer.vocabSize);
  const eot = tokenizer.specialId(END_OF_TEXT);
  const separatorIds = eot === undefined ? undefined : Int32Array.of(eot);
  const unk = tokenizer.specialId('<unk>');
  // A capped character vocabulary: count the characters, to say how many map to the unknown token.
  const counts = tokenizer instanceof CharTokenizer && tokenizer.unknownId !== undefined ? new CharCounts() : undefined;

  // Pass 2.
  const { created } = await openDataDirForWriting(out);
  const writers: SplitWriter[] = [];
  let tokenizerTemp: string | undefined;
  try {
    writers.push(
      new SplitWriter('training', new TokenFileWriter(join(out, DATA_FILES.train), dtype, tokenizer.vocabSize)),
    );
    writers.push(
      new SplitWriter('validation', new TokenFileWriter(join(out, DATA_FILES.validation), dtype, tokenizer.vocabSize)),
    );
    const [train, validation] = writers;
    let doc: Extract<Unit, { kind: 'document' }> | undefined;
    let firstPieceIn: SplitWriter | undefined;
    const tok = tokenizer;
    const write = (split: SplitWriter, text: string) => {
      if (text.length === 0) return;
      if (firstPieceIn !== split) {
        // A new document in this split (or the validation part of the document the cut falls in).
        firstPieceIn = split;
        if (split.documents++ > 0) {
          if (separatorIds) split.file.write(separatorIds);
          else encodeInto(split, TEXT_SEPARATOR);
        }
      }
      encodeInto(split, text);
    };
    const encodeInto = (split: SplitWriter, text: string) => {
      let ids: Int32Array;
      try {
        ids = tok.encode(text);
      } catch (e) {
        if (!(e instanceof TokenizerError)) throw e;
        throw new TokenizerError(
          `${doc?.where ?? corpus.name} (${split.name} text): ${e.message}; the tokenizer given cannot encode the corpus, ` +
            'so use one with an unknown token (char:N) or byte fallback (bpe), or let prepare train one',
          e.unknown,
        );
      }
      split.file.write(ids);
      split.characters += characters(text);
      split.bytes += Buffer.byteLength(text);
      if (unk !== undefined) for (const id of ids) if (id === unk) split.unknownTokens++;
      counts?.add(text);
    };
    for await (const u of walk(corpus, chunkBytes, progress(2))) {
      if (u.kind === 'held-out') continue;
      if (u.kind === 'document') {
        doc = u;
        firstPieceIn = undefined;
        continue;
      }
      const d = doc!.doc;
      if (d < cut.doc || (d === cut.doc && u.offset + u.text.length <= cut.offset)) write(train, u.text);
      else if (d > cut.doc || u.offset >= cut.offset) write(validation, u.text);
      else {
        write(train, u.text.slice(0, cut.offset - u.offset));
        write(validation, u.text.slice(cut.offset - u.offset));
      }
    }
    const trainFile = train.file.finish();
    const validationFile = validation.file.finish();
    const tokenizerText = `${JSON.stringify(tokenizer.toJSON())}\n`;
    tokenizerTemp = tempName(join(out, DATA_FILES.tokenizer));
    writeFileSync(tokenizerTemp, tokenizerText, { flag: 'wx' });
    const splitMeta = (s: SplitWriter, file: string, f: { sha256: string }): SplitMeta => ({
      file,
      tokens: s.file.tokens,
      characters: s.characters,
      bytes: s.bytes,
      documents: s.documents,
      unknownTokens: s.unknownTokens,
      sha256: f.sha256,
    });
    const meta: DataMeta = {
      format: DATA_FORMAT,
      version: DATA_VERSION,
      dtype,
      byteOrder: 'little-endian',
      vocabSize: tokenizer.vocabSize,
      tokenizer: {
        kind: tokenizer.kind,
        spec,
        file: DATA_FILES.tokenizer,
        sha256: createHash('sha256').update(tokenizerText).digest('hex'),
        validationOnlyCharacters: first.validationOnly,
      },
      train: splitMeta(train, DATA_FILES.train, trainFile),
      validation: splitMeta(validation, DATA_FILES.validation, validationFile),
      documentSeparator:
        eot === undefined ? { kind: 'text', text: TEXT_SEPARATOR } : { kind: 'token', token: END_OF_TEXT, id: eot },
      split: {
        rule: corpus.splitRule,
        heldOut: corpus.heldOut ?? null,
        validationStarts: { where: cut.where, source: cut.source, byte: cut.byte },
      },
      textField: corpus.textField ?? null,
      corpus: corpus.name,
      fingerprint: corpus.fingerprint(),
      sources: corpus.sources.map((s) => ({ path: s.path, bytes: s.bytes, sha256: s.sha256! })),
      created: new Date().toISOString(),
    };
    if (meta.validation.tokens === 0 || meta.train.tokens === 0)
      throw new CorpusError(
        `corpus ${JSON.stringify(corpus.name)}: the ${meta.train.tokens === 0 ? 'training' : 'validation'} split encodes to no tokens`,
      );
    await commitDataDir(out, {
      train: trainFile.temp,
      validation: validationFile.temp,
      tokenizer: tokenizerTemp,
      meta,
    });
    const notes: string[] = [];
    if (counts) {
      const note = unknownNote(tokenizer as CharTokenizer, counts);
      if (note) notes.push(note);
    }
    return { dir: out, meta, tokenizer, notes };
  } catch (e) {
    for (const w of writers) w.file.abort();
    if (tokenizerTemp) rmSync(tokenizerTemp, { force: true });
    await removeIfCreated(out, created);
    throw e;
  }
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * `vocabulary: 1,024 tokens for 5,321 distinct characters; the other 4,298 (1,234 occurrences,
 * 0.41% of the text) map to the unknown token`.
 */
function unknownNote(tokenizer: CharTokenizer, counts: CharCounts): string | undefined {
  const coverage = vocabularyCoverage(counts, tokenizer.vocab);
  if (coverage.outside.length === 0) return undefined;
  const percent = (100 * coverage.outsideCount) / coverage.total;
  const share = percent < 0.01 ? 'under 0.01%' : `${percent.toFixed(2)}%`;
  return (
    `vocabulary: ${count(tokenizer.vocabSize)} tokens for ${count(coverage.distinct)} distinct characters; ` +
    `the other ${count(coverage.outside.length)} (${count(coverage.outsideCount)} occurrences, ${share} of the text) map to the unknown token`
  );
}
