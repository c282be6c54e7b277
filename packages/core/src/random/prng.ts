// Counter-based random numbers: value i of stream `seed` is a hash of (seed, i). Every backend
// fills random tensors from these functions, so the same seed gives the same numbers on the
// reference backend, on tfjs cpu and on tfjs wasm.

function mix32(x: number): number {
  // murmur3's 32-bit finalizer: a bijection with good avalanche.
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function hash2(seed: number, i: number): number {
  const s = mix32((seed | 0) ^ 0x9e3779b9) ^ mix32(Math.floor(seed / 0x100000000) + 0x7f4a7c15);
  return mix32(s ^ mix32(i + 0x632be5ab) ^ Math.imul(i >>> 16, 0x27d4eb2f));
}

/** The i-th uniform double in [0, 1) of stream `seed` (53 random bits). */
export function uniformAt(seed: number, i: number): number {
  const a = hash2(seed, 2 * i);
  const b = hash2(seed, 2 * i + 1);
  return (a * 2 ** 21 + (b >>> 11)) / 2 ** 53;
}

/** n uniform values in [low, high). */
export function uniformValues(seed: number, n: number, low = 0, high = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * uniformAt(seed, i);
  return out;
}

/** n normal values (Box-Muller on two uniform streams). */
export function normalValues(seed: number, n: number, mean = 0, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = 1 - uniformAt(seed, 2 * i); // (0, 1]
    const u2 = uniformAt(seed, 2 * i + 1);
    out[i] = mean + scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/**
 * A seeded stream of seeds: `rng.nextSeed()` hands out independent sub-seeds, so initializers and
 * dropout masks each draw from their own stream and the whole run is reproducible.
 */
export class Rng {
  private counter = 0;
  constructor(readonly seed: number) {}

  nextSeed(): number {
    return hash2(this.seed, this.counter++);
  }

  /** The state to save in a checkpoint. */
  get state(): { seed: number; counter: number } {
    return { seed: this.seed, counter: this.counter };
  }

  static fromState(state: { seed: number; counter: number }): Rng {
    const r = new Rng(state.seed);
    r.counter = state.counter;
    return r;
  }
}

/** FNV-1a hash of a string to 32 bits: turns names into seed material. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seed derived from a base seed and any number of integers or names, order-sensitive. */
export function deriveSeed(base: number, ...parts: (number | string)[]): number {
  let s = base;
  for (const p of parts) s = hash2(s, typeof p === 'number' ? p : hashString(p));
  return s;
}
