// uname [-asnrvm]: fields of uname(2).

import type { Libc } from '../libc/libc.js';

export function* unameMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'uname';
  const u = yield* c.uname();
  if (typeof u === 'number') {
    yield* c.perror('uname', u);
    return 1;
  }
  let flags = argv.slice(1).join('').replace(/-/g, '');
  if (flags === '') flags = 's';
  if (flags.includes('a')) flags = 'snrvm';
  const out: string[] = [];
  if (flags.includes('s')) out.push(u.sysname);
  if (flags.includes('n')) out.push(u.nodename);
  if (flags.includes('r')) out.push(u.release);
  if (flags.includes('v')) out.push(u.version);
  if (flags.includes('m')) out.push(u.machine);
  yield* c.out(out.join(' ') + '\n');
  return 0;
}
