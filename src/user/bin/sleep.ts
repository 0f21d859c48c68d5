// sleep DURATION...: seconds (fractions allowed) with an optional s/m/h/d suffix.

import type { Libc } from '../libc/libc.js';

export function parseDuration(s: string): number | undefined {
  const m = /^([0-9]*\.?[0-9]+)([smhd]?)$/.exec(s);
  if (m === null) return undefined;
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * mult * 1e9);
}

export function* sleepMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'sleep';
  let ns = 0;
  if (argv.length < 2) {
    yield* c.err('usage: sleep DURATION\n');
    return 1;
  }
  for (const a of argv.slice(1)) {
    const d = parseDuration(a);
    if (d === undefined) {
      yield* c.err(`sleep: invalid time interval '${a}'\n`);
      return 1;
    }
    ns += d;
  }
  const r = yield* c.nanosleep(ns);
  return r < 0 ? 1 : 0;
}
