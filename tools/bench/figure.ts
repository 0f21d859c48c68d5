// A benchmark figure as tools/bench/results.json records it. Ratios are measured
// within one run, so they hold on any host.

export interface BenchFigure {
  /** Stable name, e.g. "cpu.tlb_hit_load_vs_u32_read". */
  readonly name: string;
  readonly value: number;
  /** "x" for ratios, "ms", "MiB", "GB/s", "ns" ... */
  readonly unit: string;
  /** Human-readable target, e.g. "<= 8" or ">= 0.5"; "report" when there is none. */
  readonly target: string;
  readonly pass: boolean;
  readonly note?: string;
}

/** A benchmark module exports `bench()` returning its figures. */
export type BenchModule = { bench(): Promise<BenchFigure[]> | BenchFigure[] };

/** Builds a figure and checks it against an upper or lower bound. */
export function figure(name: string, value: number, unit: string, bound?: { max?: number; min?: number }, note?: string): BenchFigure {
  let target = 'report';
  let pass = true;
  if (bound?.max !== undefined) {
    target = `<= ${bound.max}`;
    pass = value <= bound.max;
  } else if (bound?.min !== undefined) {
    target = `>= ${bound.min}`;
    pass = value >= bound.min;
  }
  return note === undefined ? { name, value, unit, target, pass } : { name, value, unit, target, pass, note };
}

/** Median wall time in ns of `fn` over `rounds` rounds of `iterations` calls each. */
export function timeNsPerOp(fn: (iterations: number) => void, iterations: number, rounds = 7): number {
  fn(Math.min(iterations, 1000)); // warm up
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn(iterations);
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}
