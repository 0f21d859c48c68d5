// echo [-neE] [STRING...]

import type { Libc } from '../libc/libc.js';
import { echoText } from './sh/builtins.js';

export function* echoMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  const r = yield* c.out(echoText(argv.slice(1)));
  return r < 0 ? 1 : 0;
}
