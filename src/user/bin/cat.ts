// cat [FILE...]: copies files ("-" or none: standard input) to standard output.

import type { Libc } from '../libc/libc.js';

export function* catMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'cat';
  const files = argv.slice(1).filter((a) => a !== '-u');
  if (files.length === 0) files.push('-');
  let status = 0;
  for (const f of files) {
    const fd = f === '-' ? 0 : yield* c.open(f, 0);
    if (fd < 0) {
      yield* c.perror(f, fd);
      status = 1;
      continue;
    }
    for (;;) {
      const r = yield* c.read(fd, 65536);
      if (typeof r === 'number') {
        yield* c.perror(f, r);
        status = 1;
        break;
      }
      if (r.length === 0) break;
      const w = yield* c.write(1, r);
      if (w < 0) {
        yield* c.perror('write error', w);
        return 1;
      }
    }
    if (fd !== 0) yield* c.close(fd);
  }
  return status;
}
