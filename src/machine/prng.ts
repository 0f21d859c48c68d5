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
