// head [-n N] [-N] [-c BYTES] [FILE...]: the first N lines (default 10) or bytes.

import type { Libc } from '../libc/libc.js';

export function headText(data: Uint8Array, lines: number): Uint8Array {
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 10 && ++n === lines) return data.subarray(0, i + 1);
  }
  return data;
}

export function* headMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'head';
  let lines = 10;
  let bytes = -1;
  const files: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-n') lines = Number(argv[++i] ?? 10);
    else if (a === '-c') bytes = Number(argv[++i] ?? 0);
    else if (/^-n?[0-9]+$/.test(a)) lines = Number(a.replace(/^-n?/, ''));
    else files.push(a);
  }
  if (files.length === 0) files.push('-');
  let status = 0;
  for (const f of files) {
    if (files.length > 1) yield* c.out(`==> ${f} <==\n`);
    // Read only as much as needed from a pipe: stop at the N-th newline.
    const fd = f === '-' ? 0 : yield* c.open(f, 0);
    if (fd < 0) {
      yield* c.perror(f, fd);
      status = 1;
      continue;
    }
    let seen = 0;
    for (;;) {
      if (bytes >= 0 ? seen >= bytes : seen >= lines) break;
      const r = yield* c.read(fd, 4096);
      if (typeof r === 'number' || r.length === 0) break;
      let part: Uint8Array;
      if (bytes >= 0) {
        part = r.subarray(0, bytes - seen);
        seen += part.length;
      } else {
        part = headText(r, lines - seen);
        for (const b of part) if (b === 10) seen++;
      }
      yield* c.out(part);
    }
    if (fd !== 0) yield* c.close(fd);
  }
  return status;
}
