// sysctl [-a] [-n] [-w] NAME[=VALUE]...: kernel parameters as files under /proc/sys
// (vm.swappiness is /proc/sys/vm/swappiness).

import type { Libc } from '../libc/libc.js';
import { O_WRONLY, S_IFDIR, S_IFMT } from '../libc/uapi.js';

export const sysctlPath = (name: string): string => '/proc/sys/' + name.replace(/\./g, '/');
const sysctlName = (path: string): string => path.replace(/^\/proc\/sys\//, '').replace(/\//g, '.');

function* show(c: Libc, path: string, valueOnly: boolean): Generator<unknown, number, unknown> {
  const v = yield* c.readFile(path);
  if (typeof v === 'number') {
    yield* c.perror(`cannot stat ${path}`, v);
    return 1;
  }
  const text = new TextDecoder().decode(v).replace(/\n$/, '').replace(/\t/g, ' ');
  yield* c.out(valueOnly ? `${text}\n` : `${sysctlName(path)} = ${text}\n`);
  return 0;
}

function* walk(c: Libc, dir: string, valueOnly: boolean): Generator<unknown, number, unknown> {
  const ents = yield* c.readdir(dir);
  if (typeof ents === 'number') return 1;
  const names = ents.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort();
  for (const n of names) {
    const p = `${dir}/${n}`;
    const st = yield* c.stat(p);
    if (typeof st === 'number') continue;
    if (((st['st_mode'] as number) & S_IFMT) === S_IFDIR) yield* walk(c, p, valueOnly);
    else if ((st['st_mode'] as number) & 0o444) yield* show(c, p, valueOnly);
  }
  return 0;
}

export function* sysctlMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'sysctl';
  let valueOnly = false;
  let all = false;
  const items: string[] = [];
  for (const a of argv.slice(1)) {
    if (a === '-n') valueOnly = true;
    else if (a === '-a') all = true;
    else if (a === '-w' || a === '-q') continue;
    else items.push(a);
  }
  if (all) return yield* walk(c, '/proc/sys', valueOnly);
  if (items.length === 0) {
    yield* c.err('usage: sysctl [-n] [-a] [-w] NAME[=VALUE]...\n');
    return 1;
  }
  let status = 0;
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq < 0) {
      status |= yield* show(c, sysctlPath(it), valueOnly);
      continue;
    }
    const name = it.slice(0, eq);
    const value = it.slice(eq + 1);
    const fd = yield* c.open(sysctlPath(name), O_WRONLY);
    if (fd < 0) {
      yield* c.perror(`cannot stat ${sysctlPath(name)}`, fd);
      status = 1;
      continue;
    }
    const w = yield* c.write(fd, value + '\n');
    yield* c.close(fd);
    if (w < 0) {
      yield* c.perror(`setting key "${name}"`, w);
      status = 1;
      continue;
    }
    yield* c.out(valueOnly ? `${value}\n` : `${name} = ${value}\n`);
  }
  return status;
}
