// The corpus as the two passes of `prepare` walk it, and pass 1. Walking turns each source's text
// into documents and pieces (pieces.ts: never a split character or pre-token), each placed at its
// byte position in the corpus. Pass 1 finds where the validation text starts (the first safe cut
// at or after the held-out byte, or the split a corpus marks) and feeds the training text to a
// tokenizer trainer; pass 2 (prepare.ts) walks the same pieces again and encodes them.
import type { TokenizerTrainer } from '@ganglion/core';
import { PieceCutter, isCut } from './pieces.js';
import type { Corpus } from './sources.js';

/** The special token that separates documents, when the tokenizer has it. */
export const END_OF_TEXT = '<|endoftext|>';
/** What separates documents otherwise. */
export const TEXT_SEPARATOR = '\n\n';

/** Where validation starts: document `doc` (0-based, documents with text only), UTF-16 offset `offset` in it. */
export interface Cut {
  readonly doc: number;
  readonly offset: number;
  /** Which document, source, and the byte offset in it, for meta.json. */
  readonly where: string;
  readonly source: string;
  readonly byte: number;
}

/** What the two passes walk: documents (with text) and their pieces, in order. */
export type Unit =
  | {
      readonly kind: 'document';
      readonly doc: number;
      readonly where: string;
      readonly at: number;
      readonly fixed: boolean;
      readonly source: number;
      readonly sourceAt: number;
    }
  | {
      readonly kind: 'piece';
      readonly text: string;
      readonly offset: number;
      readonly forced: boolean;
      /** Corpus byte position of the piece's first character (fixed documents: of the whole record). */
      readonly at: number;
    }
  | { readonly kind: 'held-out' };

/** The corpus as units; `onBytes` sees the bytes read so far (all sources). */
export async function* walk(
  corpus: Corpus,
  chunkBytes: number,
  onBytes: (bytes: number, source: string) => void,
): AsyncGenerator<Unit> {
  let base = 0;
  let doc = -1;
  for (let s = 0; s < corpus.sources.length; s++) {
    const source = corpus.sources[s];
    let current: { where: string; at: number; fixed: boolean } | undefined;
    let started = false;
    let cutter: PieceCutter | undefined;
    let docBytes = 0;
    function* pieces(list: ReturnType<PieceCutter['push']>): Generator<Unit> {
      for (const p of list) {
        if (!started) {
          started = true;
          doc++;
          yield {
            kind: 'document',
            doc,
            where: current!.where,
            at: base + current!.at,
            fixed: current!.fixed,
            source: s,
            sourceAt: current!.at,
          };
        }
        const at = current!.fixed ? base + current!.at : base + current!.at + docBytes;
        if (!current!.fixed) docBytes += Buffer.byteLength(p.text);
        yield { kind: 'piece', text: p.text, offset: p.offset, forced: p.forced, at };
      }
    }
    for await (const e of source.read(chunkBytes)) {
      if (e.kind === 'document') {
        if (cutter) yield* pieces(cutter.end());
        current = { where: e.where, at: e.at, fixed: e.fixed };
        started = false;
        docBytes = 0;
        cutter = new PieceCutter(chunkBytes);
      } else if (e.kind === 'text') {
        yield* pieces(cutter!.push(e.text));
      } else if (e.kind === 'held-out') {
        if (cutter) yield* pieces(cutter.end());
        cutter = undefined;
        yield { kind: 'held-out' };
      } else {
        onBytes(base + e.bytes, source.path);
      }
    }
    if (cutter) yield* pieces(cutter.end());
    base += source.bytes;
  }
}

/** Code points in `text` (a surrogate pair is one). */
export function characters(text: string): number {
  let n = text.length;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c < 0xe000) {
      const p = text.charCodeAt(i - 1);
      if (p >= 0xd800 && p < 0xdc00) n--;
    }
  }
  return n;
}

/** The first index `i` of `text` whose byte position `at + bytes(text[0..i))` is >= `target`; text.length if none. */
function indexAtByte(text: string, at: number, target: number): number {
  const n = text.length;
  let pos = at;
  for (let i = 0; i < n;) {
    if (pos >= target) return i;
    const c = text.charCodeAt(i);
    const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    if (c < 0x80) pos += 1;
    else if (c < 0x800) pos += 2;
    else if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      pos += 4;
      i += 2;
      continue;
    } else pos += 3;
    i++;
  }
  return n;
}

/** Which code points a text has (1.1 MB, whatever the corpus's size). */
class Alphabet {
  readonly seen = new Uint8Array(0x110000);
  add(text: string): void {
    const seen = this.seen;
    for (let i = 0; i < text.length; i++) {
      const c = text.codePointAt(i)!;
      if (c > 0xffff) i++;
      seen[c] = 1;
    }
  }
}

export interface Pass1 {
  readonly cut: Cut | undefined;
  readonly documents: number;
  readonly characters: number;
  /** Characters that occur in the validation text only (fed to the trainer once each). */
  readonly validationOnly: number;
}

/**
 * Pass 1: where validation starts, feeding the training text (with a blank line between documents)
 * to `trainer`, then each character that occurs only in the validation text, once, so the
 * tokenizer can encode the whole corpus (its alphabet) while its statistics come from the
 * training text alone. `target`: the byte the cut looks for (undefined: the corpus marks it);
 * `anywhere`: cut at the first character at or after it, safe or not (when a first try found no
 * safe cut).
 */
export async function firstPass(
  corpus: Corpus,
  chunkBytes: number,
  target: number | undefined,
  anywhere: boolean,
  trainer: TokenizerTrainer | undefined,
  progress: (bytes: number, source: string) => void,
): Promise<Pass1> {
  let cut: Cut | undefined;
  let heldOut = false;
  let documents = 0;
  let chars = 0;
  let trainDocs = 0;
  let doc: Extract<Unit, { kind: 'document' }> | undefined;
  let firstPiece = true;
  const trainAlphabet = trainer ? new Alphabet() : undefined;
  const validationAlphabet = trainer ? new Alphabet() : undefined;
  const train = (text: string, newDocument: boolean) => {
    if (!trainer || text.length === 0) return;
    if (newDocument && trainDocs++ > 0) {
      trainer.add(TEXT_SEPARATOR);
      trainAlphabet!.add(TEXT_SEPARATOR);
    }
    trainer.add(text);
    trainAlphabet!.add(text);
  };
  const cutAt = (offset: number, at: number): Cut => ({
    doc: doc!.doc,
    offset,
    where: doc!.where,
    source: corpus.sources[doc!.source].path,
    byte: doc!.sourceAt + (at - doc!.at),
  });
  for await (const u of walk(corpus, chunkBytes, progress)) {
    if (u.kind === 'held-out') {
      heldOut = true;
      continue;
    }
    if (u.kind === 'document') {
      doc = u;
      documents++;
      firstPiece = true;
      if (!cut && (heldOut || (target !== undefined && u.at >= target))) cut = cutAt(0, u.at);
      continue;
    }
    chars += characters(u.text);
    const newDocument = firstPiece;
    firstPiece = false;
    if (cut) {
      validationAlphabet?.add(u.text);
      continue;
    }
    const bytes = doc!.fixed ? 0 : Buffer.byteLength(u.text);
    if (target === undefined || doc!.fixed || u.at + bytes <= target) {
      train(u.text, newDocument);
      continue;
    }
    // The target byte is in this piece, or before it.
    let i = indexAtByte(u.text, u.at, target);
    if (i === 0 && u.offset > 0 && !u.forced) {
      // The piece itself starts at a safe cut.
    } else if (!anywhere) {
      if (i === 0) i = 1;
      while (i < u.text.length && !isCut(u.text, i)) i++;
    }
    if (i < u.text.length) {
      cut = cutAt(u.offset + i, u.at + Buffer.byteLength(u.text.slice(0, i)));
      train(u.text.slice(0, i), newDocument);
      validationAlphabet?.add(u.text.slice(i));
    } else {
      train(u.text, newDocument);
    }
  }
  let validationOnly = 0;
  if (trainer && cut) {
    const inTrain = trainAlphabet!.seen;
    const inValidation = validationAlphabet!.seen;
    for (let c = 0; c < inValidation.length; c++) {
      if (inValidation[c] && !inTrain[c]) {
        trainer.add(String.fromCodePoint(c));
        validationOnly++;
      }
    }
  }
  return { cut, documents, characters: chars, validationOnly };
}
