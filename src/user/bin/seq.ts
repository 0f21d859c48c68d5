// seq [FIRST [INCREMENT]] LAST: integers one per line.

import type { Libc } from '../libc/libc.js';

export function* seqMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  const n = argv.slice(1).map(Number);
  if (n.length < 1 || n.length > 3 || n.some((x) => !Number.isFinite(x))) {
    yield* c.err('usage: seq [FIRST [INCREMENT]] LAST\n');
    return 1;
  }
  const [first, inc, last] = n.length === 1 ? [1, 1, n[0]!] : n.length === 2 ? [n[0]!, 1, n[1]!] : [n[0]!, n[1]!, n[2]!];
  if (inc === 0) return 1;
  // Streams through stdout's buffer: a long sequence never sits in memory at once.
  for (let v = first; inc > 0 ? v <= last : v >= last; v += inc) {
    if ((yield* c.out(`${v}\n`)) < 0) return 1;
  }
  return 0;
}
