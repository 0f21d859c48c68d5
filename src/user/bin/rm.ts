// rm [-r] [-f] FILE...: unlinks files; -r removes directories depth first.

import type { Libc } from '../libc/libc.js';
import { AT_SYMLINK_NOFOLLOW, S_IFDIR, S_IFMT } from '../libc/uapi.js';
import { ENOENT, EISDIR } from '../libc/errno.js';

function* remove(c: Libc, path: string, recursive: boolean, force: boolean): Generator<unknown, number, unknown> {
  const st = yield* c.stat(path, AT_SYMLINK_NOFOLLOW);
  if (typeof st === 'number') {
    if (force && st === -ENOENT) return 0;
    yield* c.perror(`cannot remove '${path}'`, st);
    return 1;
  }
  if (((st['st_mode'] as number) & S_IFMT) === S_IFDIR) {
    if (!recursive) {
      yield* c.perror(`cannot remove '${path}'`, -EISDIR);
      return 1;
    }
    const ents = yield* c.readdir(path);
    if (typeof ents === 'number') {
      yield* c.perror(`cannot remove '${path}'`, ents);
      return 1;
    }
    let s = 0;
    for (const e of ents) if (e.name !== '.' && e.name !== '..') s |= yield* remove(c, `${path}/${e.name}`, recursive, force);
    const r = yield* c.rmdir(path);
    if (r < 0) {
      yield* c.perror(`cannot remove '${path}'`, r);
      return 1;
    }
    return s;
  }
  const r = yield* c.unlink(path);
  if (r < 0) {
    yield* c.perror(`cannot remove '${path}'`, r);
    return 1;
  }
  return 0;
}

export function* rmMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'rm';
  let recursive = false;
  let force = false;
  const paths: string[] = [];
  for (const a of argv.slice(1)) {
    if (/^-[rRf]+$/.test(a)) {
      if (/[rR]/.test(a)) recursive = true;
      if (a.includes('f')) force = true;
    } else paths.push(a);
  }
  if (paths.length === 0 && !force) {
    yield* c.err('usage: rm [-rf] FILE...\n');
    return 1;
  }
  let status = 0;
  for (const p of paths) status |= yield* remove(c, p, recursive, force);
  return status;
}
