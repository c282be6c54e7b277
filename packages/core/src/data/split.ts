// Holding out validation data: the last `fraction` of the tokens (or of the text's characters).
// The tail, not a random sample, so validation text is contiguous and never overlaps training
// windows. The text version cuts where the token version cuts on the text's character tokens.

import { DataError } from './dataset.js';

export interface Split<T> {
  readonly train: T;
  readonly validation: T;
}

function heldOut(n: number, fraction: number): number {
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction < 1))
    throw new DataError(`validation fraction must be in [0, 1), got ${String(fraction)}`);
  return Math.round(n * fraction);
}

/**
 * Split tokens: the first part trains, the last `fraction` validates (copies, not views).
 *
 *   const { train, validation } = trainValidationSplit(tok.encode(text), 0.1);
 */
export function trainValidationSplit(tokens: Int32Array, fraction: number): Split<Int32Array> {
  const cut = tokens.length - heldOut(tokens.length, fraction);
  return { train: tokens.slice(0, cut), validation: tokens.slice(cut) };
}

/** Split text by characters (code points, so a surrogate pair is never cut in two). */
export function trainValidationSplitText(text: string, fraction: number): Split<string> {
  const chars = Array.from(text);
  const cut = chars.length - heldOut(chars.length, fraction);
  return { train: chars.slice(0, cut).join(''), validation: chars.slice(cut).join('') };
}
