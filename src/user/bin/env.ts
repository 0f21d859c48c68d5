// env: the environment, one NAME=value per line.

import type { Libc } from '../libc/libc.js';

export function* envMain(c: Libc): Generator<unknown, number, unknown> {
  for (const e of c.environ) yield* c.out(e + '\n');
  return 0;
}
