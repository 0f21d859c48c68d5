// ls [-l] [-a] [-1] [-d] [FILE...]: directory entries sorted by name; -l gives the
// mode, links, owner, group, size (major, minor for devices) and name.

import type { Libc, Stat } from '../libc/libc.js';
import { strerror } from '../libc/errno.js';
import { AT_SYMLINK_NOFOLLOW, S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK } from '../libc/uapi.js';

const TYPE_CHAR: Record<number, string> = { [S_IFDIR]: 'd', [S_IFREG]: '-', [S_IFLNK]: 'l', [S_IFCHR]: 'c', [S_IFBLK]: 'b', [S_IFIFO]: 'p', [S_IFSOCK]: 's' };

/** "drwxr-xr-x" from st_mode, with setuid/setgid/sticky letters. */
export function modeString(mode: number): string {
  const t = TYPE_CHAR[mode & S_IFMT] ?? '?';
  const rwx = (bits: number, special: boolean, sch: string): string =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? sch : sch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return t + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') + rwx(mode & 7, (mode & 0o1000) !== 0, 't');
}

function longLine(st: Stat, name: string): string {
  const mode = st['st_mode'] as number;
  const fmt = mode & S_IFMT;
  const rdev = st['st_rdev'] as number;
  // new_encode_dev: major in bits 8..19, minor in 0..7 and 20..31.
  const size = fmt === S_IFCHR || fmt === S_IFBLK ? `${(rdev >> 8) & 0xfff}, ${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}` : String(st['st_size']);
  return `${modeString(mode)} ${String(st['st_nlink']).padStart(3)} ${String(st['st_uid']).padEnd(5)} ${String(st['st_gid']).padEnd(5)} ${size.padStart(8)} ${name}\n`;
}

export function* lsMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'ls';
  let long = false;
  let all = false;
  let dirSelf = false;
  const paths: string[] = [];
  for (const a of argv.slice(1)) {
    if (a.startsWith('-') && a.length > 1) {
      for (const f of a.slice(1)) {
        if (f === 'l') long = true;
        else if (f === 'a') all = true;
        else if (f === 'd') dirSelf = true;
      }
    } else paths.push(a);
  }
  if (paths.length === 0) paths.push('.');
  let status = 0;
  const files: [string, Stat][] = [];
  const dirs: string[] = [];
  for (const p of paths) {
    const st = yield* c.stat(p, AT_SYMLINK_NOFOLLOW);
    if (typeof st === 'number') {
      yield* c.err(`ls: cannot access '${p}': ${strerror(st)}\n`);
      status = 2;
      continue;
    }
    if (((st['st_mode'] as number) & S_IFMT) === S_IFDIR && !dirSelf) dirs.push(p);
    else files.push([p, st]);
  }
  for (const [p, st] of files) yield* c.out(long ? longLine(st, p) : p + '\n');
  for (const d of dirs) {
    if (paths.length > 1) yield* c.out(`${files.length > 0 || d !== dirs[0] ? '\n' : ''}${d}:\n`);
    const ents = yield* c.readdir(d);
    if (typeof ents === 'number') {
      yield* c.err(`ls: cannot open directory '${d}': ${strerror(ents)}\n`);
      status = 2;
      continue;
    }
    const names = ents.map((e) => e.name).filter((n) => all || !n.startsWith('.'));
    names.sort();
    for (const n of names) {
      if (!long) {
        yield* c.out(n + '\n');
        continue;
      }
      const st = yield* c.stat(`${d === '/' ? '' : d}/${n}`, AT_SYMLINK_NOFOLLOW);
      yield* c.out(typeof st === 'number' ? `?????????? ${n}\n` : longLine(st, n));
    }
  }
  return status;
}
