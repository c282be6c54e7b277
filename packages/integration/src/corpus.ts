// A small deterministic English-like corpus for learning tests: sentences drawn from a tiny
// grammar with core's seeded generator. Its characters are far from independent (words repeat,
// spaces and periods follow rules), so a model that learns gets well below the unigram entropy.
import { uniformAt } from '@ganglion/core';

const subjects = ['the cat', 'a dog', 'the old man', 'my sister', 'the whale', 'a sailor'];
const verbs = ['sees', 'follows', 'likes', 'hunts', 'remembers', 'paints'];
const objects = ['the sea', 'a small boat', 'the harbour', 'her friend', 'the white ship', 'a storm'];

export function tinyCorpus(sentences: number, seed = 1): string {
  const pick = (list: string[], i: number) => list[Math.floor(uniformAt(seed, i) * list.length)];
  const out: string[] = [];
  for (let s = 0; s < sentences; s++)
    out.push(`${pick(subjects, 3 * s)} ${pick(verbs, 3 * s + 1)} ${pick(objects, 3 * s + 2)}.`);
  return out.join(' ');
}

/** Unigram entropy of a text in nats per character. */
export function unigramEntropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...text].length;
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log(c / n);
  return h;
}
