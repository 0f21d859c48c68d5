// mount [-t TYPE] SOURCE TARGET; with no arguments, the table in /proc/mounts.

import type { Libc } from '../libc/libc.js';

export function* mountMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'mount';
  let type = '';
  const args: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '-t') type = argv[++i] ?? '';
    else if (argv[i] === '-o') i++;
    else args.push(argv[i]!);
  }
  if (args.length === 0) {
    const t = yield* c.readFile('/proc/mounts');
    if (typeof t === 'number') {
      yield* c.perror('/proc/mounts', t);
      return 1;
    }
    yield* c.out(t);
    return 0;
  }
  if (args.length !== 2) {
    yield* c.err('usage: mount [-t TYPE] SOURCE TARGET\n');
    return 1;
  }
  const r = yield* c.mount(args[0]!, args[1]!, type || args[0]!);
  if (r < 0) {
    yield* c.perror(`mounting ${args[0]} on ${args[1]} failed`, r);
    return 32;
  }
  return 0;
}
