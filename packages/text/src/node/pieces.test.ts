// Piece cutting: the pieces put back together are the text; every cut is ASCII whitespace right
// after a letter or digit; and encoding piece by piece gives the same ids as encoding the whole
// text at once, for every tokenizer plugin that trains and for OpenAI's GPT-2 and cl100k BPE
// (js-tiktoken, whose pre-tokenizer regexes differ: cl100k glues newlines to punctuation).
import { describe, expect, test } from 'vitest';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import gpt2 from 'js-tiktoken/ranks/gpt2';
import type { Tokenizer } from '@ganglion/core';
import { BUILTIN_TOKENIZERS } from '../index.js';
import { type Piece, PieceCutter } from './pieces.js';

/** Spaces of every kind, newlines, CRLF, punctuation next to spaces, 2-, 3- and 4-byte characters. */
const TEXT =
  '\uFEFFCall me Ishmael.  Some years ago—never mind how long precisely—having little or no money,\r\n' +
  'and nothing particular to interest me on shore, I thought I would sail about a little.\n\n\n' +
  "It's a way I have of driving off the spleen!  \t Ωμέγα 鯨魚 😀🐋 𝄞 naïve — café.\u00a0 x \u3000y\n" +
  '  indented   line,with,commas ,and , spaces  ;\n' +
  '1234 56,78 9.0 ... !!! ??? (parens) [brackets] {braces} "quotes" \'single\'\n';

/** Cuts `text` delivered in chunks of `chunk` units with a target piece size of `target`. */
function cut(text: string, chunk: number, target: number, max?: number): Piece[] {
  const cutter = new PieceCutter(target, max);
  const out: Piece[] = [];
  for (let i = 0; i < text.length; i += chunk) {
    let end = Math.min(text.length, i + chunk);
    // Deliver whole characters, as a decoder does.
    const c = text.charCodeAt(end - 1);
    if (end < text.length && c >= 0xd800 && c < 0xdc00) end++;
    out.push(...cutter.push(text.slice(i, end)));
    i = end - chunk;
  }
  out.push(...cutter.end());
  return out;
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]$/u;

describe('PieceCutter', () => {
  test('the pieces are the text, cut only before ASCII whitespace right after a letter or digit', () => {
    const text = TEXT.repeat(20);
    for (const [chunk, target] of [
      [1, 1],
      [3, 2],
      [7, 16],
      [64, 50],
      [1000, 300],
      [text.length, 1 << 20],
    ]) {
      const pieces = cut(text, chunk, target);
      expect(pieces.map((p) => p.text).join('')).toBe(text);
      let offset = 0;
      for (const [k, p] of pieces.entries()) {
        expect(p.offset).toBe(offset);
        expect(p.forced).toBe(false);
        expect(p.text.length).toBeGreaterThan(0);
        if (k > 0) {
          expect(' \t\n\r\v\f').toContain(p.text[0]);
          expect(text.slice(0, offset)).toMatch(LETTER_OR_DIGIT);
        }
        offset += p.text.length;
      }
      if (target < 100) expect(pieces.length).toBeGreaterThan(10);
    }
  });

  test('a run without whitespace longer than the cap is cut anyway, never inside a surrogate pair', () => {
    const text = '😀a'.repeat(500);
    const pieces = cut(text, 7, 4, 101);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    expect(pieces.length).toBeGreaterThan(5);
    for (const p of pieces) {
      expect(p.text.length).toBeLessThanOrEqual(101 + 8);
      const last = p.text.charCodeAt(p.text.length - 1);
      expect(last >= 0xd800 && last < 0xdc00).toBe(false);
    }
    expect(pieces.slice(1).every((p) => p.forced)).toBe(true);
  });

  test('an over-long run is cut before whitespace after punctuation when there is some', () => {
    const text = '鯨魚。\n'.repeat(100);
    const pieces = cut(text, 10, 4, 50);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    for (const p of pieces.slice(1)) {
      expect(p.forced).toBe(true);
      expect(p.text.startsWith('\n')).toBe(true);
    }
  });
});

describe.each([
  ['gpt2', gpt2],
  ['cl100k_base', cl100k],
])('js-tiktoken %s: pieces encode to the ids of the whole text', (_name, ranks) => {
  test('for chunk and piece sizes from 1 unit to the whole text', () => {
    const encoder = new Tiktoken(ranks);
    const text = TEXT.repeat(6);
    const whole = encoder.encode(text);
    for (const [chunk, target] of [
      [1, 1],
      [5, 3],
      [17, 40],
      [text.length, 1 << 20],
    ]) {
      const pieces = cut(text, chunk, target);
      if (target < 50) expect(pieces.length).toBeGreaterThan(50);
      expect(pieces.flatMap((p) => encoder.encode(p.text))).toEqual(whole);
    }
  });
});

/** Every plugin that trains a vocabulary, with its default argument. */
const TRAINABLE = BUILTIN_TOKENIZERS.filter((p) => p.trainer);

describe.each(TRAINABLE.map((p) => [p.kind, p] as const))(
  '%s: pieces encode to the ids of the whole text',
  (_kind, plugin) => {
    test('for chunk and piece sizes from 1 unit to the whole text', () => {
      const text = TEXT.repeat(6);
      const trainer = plugin.trainer!(undefined);
      trainer.add(text);
      const tokenizer: Tokenizer = trainer.finish();
      const whole = Array.from(tokenizer.encode(text));
      for (const [chunk, target] of [
        [1, 1],
        [5, 3],
        [17, 40],
        [200, 100],
        [text.length, 1 << 20],
      ]) {
        const ids = cut(text, chunk, target).flatMap((p) => Array.from(tokenizer.encode(p.text)));
        expect(ids).toEqual(whole);
      }
    });
  },
);
