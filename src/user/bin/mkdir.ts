// mkdir [-p] [-m MODE] DIR...

import type { Libc } from '../libc/libc.js';
import { EEXIST } from '../libc/errno.js';

export function* mkdirMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'mkdir';
  let parents = false;
  let mode = 0o777;
  const dirs: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-p') parents = true;
    else if (a === '-m') mode = parseInt(argv[++i] ?? '777', 8) & 0o7777;
    else dirs.push(a);
  }
  if (dirs.length === 0) {
    yield* c.err('usage: mkdir [-p] [-m MODE] DIR...\n');
    return 1;
  }
  let status = 0;
  for (const d of dirs) {
    if (parents) {
      const parts = d.split('/');
      let cur = d.startsWith('/') ? '' : '.';
      for (const p of parts) {
        if (p === '') continue;
        cur += '/' + p;
        const r = yield* c.mkdir(cur, mode);
        if (r < 0 && r !== -EEXIST) {
          yield* c.perror(`cannot create directory '${d}'`, r);
          status = 1;
          break;
        }
      }
      continue;
    }
    const r = yield* c.mkdir(d, mode);
    if (r < 0) {
      yield* c.perror(`cannot create directory '${d}'`, r);
      status = 1;
    }
  }
  return status;
}
