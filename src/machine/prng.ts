// The seeded generator for everything on the host side that needs "random" data
// deterministically (demo data, tests, fuzzers): mulberry32. The guest kernel has its
// own (it may not import the machine).

/** A mulberry32 stream of 32-bit unsigned integers. */
export function mulberry32u(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A mulberry32 stream of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const next = mulberry32u(seed);
  return () => next() / 4294967296;
}

/**
 * A xorshift32 stream (Marsaglia's 13/17/5 triple) of 32-bit unsigned integers; seed 0
 * becomes 1 (the generator's one fixed point). The tests' random programs and fuzzers
 * were written against it, so their seeds keep reproducing the same cases.
 */
export function xorshift32u(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** A xorshift32 stream of floats in [0, 1). */
export function xorshift32(seed: number): () => number {
  const next = xorshift32u(seed);
  return () => next() / 4294967296;
}
