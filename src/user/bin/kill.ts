// kill [-s SIG | -SIG | -N] PID... ; kill -l lists the signal names.

import type { Libc } from '../libc/libc.js';
import { SIGNALS, SIGTERM } from '../libc/uapi.js';

export function signalNumber(s: string): number | undefined {
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n < 65 ? n : undefined;
  }
  const name = s.toUpperCase().replace(/^SIG/, '');
  const i = SIGNALS.indexOf(name);
  return i > 0 ? i : undefined;
}

export function* killMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'kill';
  let sig = SIGTERM;
  let i = 1;
  if (argv[1] === '-l') {
    yield* c.out(SIGNALS.slice(1).join(' ') + '\n');
    return 0;
  }
  if (argv[1] === '-s' && argv[2] !== undefined) {
    const n = signalNumber(argv[2]);
    if (n === undefined) {
      yield* c.err(`kill: ${argv[2]}: invalid signal\n`);
      return 1;
    }
    sig = n;
    i = 3;
  } else if (argv[1]?.startsWith('-') && argv[1] !== '--') {
    const n = signalNumber(argv[i]!.slice(1));
    if (n === undefined) {
      yield* c.err(`kill: ${argv[i]}: invalid signal\n`);
      return 1;
    }
    sig = n;
    i = 2;
  }
  if (argv[i] === '--') i++;
  if (i >= argv.length) {
    yield* c.err('usage: kill [-s SIG | -SIG] PID...\n');
    return 2;
  }
  let status = 0;
  for (const a of argv.slice(i)) {
    const pid = Number(a);
    if (!Number.isInteger(pid)) {
      yield* c.err(`kill: ${a}: arguments must be process IDs\n`);
      status = 1;
      continue;
    }
    const r = yield* c.kill(pid, sig);
    if (r < 0) {
      yield* c.perror(`(${pid})`, r);
      status = 1;
    }
  }
  return status;
}
