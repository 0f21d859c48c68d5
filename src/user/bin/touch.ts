// touch FILE...: creates files that do not exist.

import type { Libc } from '../libc/libc.js';
import { O_CREAT, O_WRONLY } from '../libc/uapi.js';

export function* touchMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'touch';
  let status = 0;
  for (const f of argv.slice(1)) {
    const fd = yield* c.open(f, O_WRONLY | O_CREAT, 0o644);
    if (fd < 0) {
      yield* c.perror(`cannot touch '${f}'`, fd);
      status = 1;
    } else yield* c.close(fd);
  }
  return status;
}
