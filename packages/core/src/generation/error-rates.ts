// How far decoded sequences are from their references, as grapheme-to-phoneme and translation
// papers report it: the Levenshtein distance between two token sequences, the word error rate (the
// fraction of words whose output is not exactly a reference) and the phoneme error rate (edit
// distance summed over words, over the reference length summed over words). A word may have
// several acceptable references (CMUdict lists alternative pronunciations): it is right when it
// equals any, and its phoneme errors count against the closest one (the first of equally close).
import { ConfigError } from '../errors.js';

/** A reference: one sequence, or a list of acceptable ones. */
export type Reference<T> = ArrayLike<T> | readonly ArrayLike<T>[];

/**
 * The least number of insertions, deletions and substitutions (each costing 1) that turn `a` into
 * `b`; elements compared with ===.
 *
 *   editDistance(['K', 'AE1', 'T'], ['K', 'AH0', 'T', 'S']) // 2
 */
export function editDistance<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  // One row of the dynamic programme: prev[j] = distance(a[0..i), b[0..j)).
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The fraction of words whose hypothesis is not exactly one of its references.
 *
 *   wordErrorRate([[1, 2], [3]], [[1, 2], [4]]) // 0.5
 */
export function wordErrorRate<T>(hyps: readonly ArrayLike<T>[], refs: readonly Reference<T>[]): number {
  checkPairs('wordErrorRate', hyps, refs);
  const wrong = hyps.filter((h, i) => closest(h, refs[i]).distance > 0).length;
  return wrong / hyps.length;
}

/**
 * Total edit distance over total reference length (of each word's closest reference).
 *
 *   phonemeErrorRate([[1, 2], [3]], [[1, 2, 5], [4]]) // (1 + 1) / (3 + 1) = 0.5
 */
export function phonemeErrorRate<T>(hyps: readonly ArrayLike<T>[], refs: readonly Reference<T>[]): number {
  checkPairs('phonemeErrorRate', hyps, refs);
  let errors = 0;
  let length = 0;
  hyps.forEach((h, i) => {
    const { distance, ref } = closest(h, refs[i]);
    errors += distance;
    length += ref.length;
  });
  if (length === 0) throw new ConfigError('phonemeErrorRate: the references are all empty, so there is no rate');
  return errors / length;
}

/** The alternatives of a reference: a list whose elements are all arrays (or typed arrays), else the one sequence (string elements are tokens). */
function alternatives<T>(ref: Reference<T>): readonly ArrayLike<T>[] {
  const list = Array.isArray(ref) && ref.length > 0 && ref.every((r) => typeof r === 'object' && r !== null);
  return list ? (ref as readonly ArrayLike<T>[]) : [ref as ArrayLike<T>];
}

function closest<T>(hyp: ArrayLike<T>, ref: Reference<T>): { distance: number; ref: ArrayLike<T> } {
  let best: { distance: number; ref: ArrayLike<T> } | undefined;
  for (const r of alternatives(ref)) {
    const distance = editDistance(hyp, r);
    if (!best || distance < best.distance) best = { distance, ref: r };
  }
  return best!;
}

function checkPairs(who: string, hyps: readonly unknown[], refs: readonly unknown[]): void {
  if (hyps.length !== refs.length)
    throw new ConfigError(`${who}: ${hyps.length} hypotheses but ${refs.length} references, expected one per word`);
  if (hyps.length === 0) throw new ConfigError(`${who}: no words given`);
}
