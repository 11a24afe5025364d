/**
 * A seeded PRNG for randomised tests, so that a failure reproduces from the seed alone.
 *
 * @module
 */

/**
 * Mulberry32: a small seeded PRNG (32-bit state), good enough for test inputs. Returns a
 * function giving numbers in [0, 1); the same seed gives the same sequence.
 *
 * @example
 * ```ts
 * const rand = prng(0x5eed);
 * const byte = (rand() * 256) | 0; // the same byte on every run
 * ```
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
