// cp SOURCE DEST | cp SOURCE... DIRECTORY: copies regular files (mode kept).

import type { Libc } from '../libc/libc.js';
import { O_CREAT, O_TRUNC, O_WRONLY, S_IFDIR, S_IFMT } from '../libc/uapi.js';
import { EISDIR } from '../libc/errno.js';

function* copyFile(c: Libc, from: string, to: string): Generator<unknown, number, unknown> {
  const st = yield* c.stat(from);
  if (typeof st === 'number') {
    yield* c.perror(`cannot stat '${from}'`, st);
    return 1;
  }
  if (((st['st_mode'] as number) & S_IFMT) === S_IFDIR) {
    yield* c.perror(`-r not specified; omitting directory '${from}'`, -EISDIR);
    return 1;
  }
  const src = yield* c.open(from, 0);
  if (src < 0) {
    yield* c.perror(`cannot open '${from}' for reading`, src);
    return 1;
  }
  const dst = yield* c.open(to, O_WRONLY | O_CREAT | O_TRUNC, (st['st_mode'] as number) & 0o777);
  if (dst < 0) {
    yield* c.close(src);
    yield* c.perror(`cannot create regular file '${to}'`, dst);
    return 1;
  }
  let status = 0;
  for (;;) {
    const r = yield* c.read(src, 65536);
    if (typeof r === 'number') {
      yield* c.perror(`error reading '${from}'`, r);
      status = 1;
      break;
    }
    if (r.length === 0) break;
    const w = yield* c.write(dst, r);
    if (w < 0) {
      yield* c.perror(`error writing '${to}'`, w);
      status = 1;
      break;
    }
  }
  yield* c.close(src);
  yield* c.close(dst);
  return status;
}

export function* cpMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'cp';
  const args = argv.slice(1).filter((a) => !/^-[fpa]+$/.test(a));
  if (args.length < 2) {
    yield* c.err('usage: cp SOURCE DEST | cp SOURCE... DIRECTORY\n');
    return 1;
  }
  const dest = args[args.length - 1]!;
  const sources = args.slice(0, -1);
  const dst = yield* c.stat(dest);
  const intoDir = typeof dst !== 'number' && ((dst['st_mode'] as number) & S_IFMT) === S_IFDIR;
  if (sources.length > 1 && !intoDir) {
    yield* c.err(`cp: target '${dest}' is not a directory\n`);
    return 1;
  }
  let status = 0;
  for (const s of sources) {
    const base = s.split('/').filter((x) => x !== '').pop() ?? s;
    status |= yield* copyFile(c, s, intoDir ? `${dest.replace(/\/$/, '')}/${base}` : dest);
  }
  return status;
}
