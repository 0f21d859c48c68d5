// cmp [-s] FILE1 FILE2: the first differing byte (exit 1), or nothing (exit 0); 2 on trouble.

import type { Libc } from '../libc/libc.js';

/** The cmp(1) verdict for two contents: undefined when equal, else the message. */
export function compareBytes(a: Uint8Array, b: Uint8Array, nameA: string, nameB: string): string | undefined {
  const n = Math.min(a.length, b.length);
  let line = 1;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `${nameA} ${nameB} differ: byte ${i + 1}, line ${line}\n`;
    if (a[i] === 10) line++;
  }
  if (a.length === b.length) return undefined;
  const shorter = a.length < b.length ? nameA : nameB;
  return `cmp: EOF on ${shorter} after byte ${n}, line ${line}\n`;
}

export function* cmpMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'cmp';
  const silent = argv.includes('-s');
  const files = argv.slice(1).filter((a) => a !== '-s');
  if (files.length !== 2) {
    yield* c.err('usage: cmp [-s] FILE1 FILE2\n');
    return 2;
  }
  const data: Uint8Array[] = [];
  for (const f of files) {
    const d = f === '-' ? yield* c.readAll(0) : yield* c.readFile(f);
    if (typeof d === 'number') {
      yield* c.perror(f, d);
      return 2;
    }
    data.push(d);
  }
  const msg = compareBytes(data[0]!, data[1]!, files[0]!, files[1]!);
  if (msg === undefined) return 0;
  if (!silent) yield* (msg.startsWith('cmp:') ? c.err(msg) : c.out(msg));
  return 1;
}
