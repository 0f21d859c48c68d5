// Builds an initramfs (cpio newc) from an image tree, as `svasoc mkimage DIR OUT.cpio`
// and `svasoc boot [image] --script FILE` do.
//
// Layout of every image:
//   /bin/<name>   one executable stub "#!svasoc:<name>\n" per program of the user ROM
//                 (like busybox links), unless the tree has its own file there
//   /sbin/init    the init program (PID 1)
//   /bin /sbin /dev /proc /sys /tmp /etc /root   always present (the kernel mounts
//                 proc, sysfs and devtmpfs on /proc, /sys and /dev)
//   /dev/console  character device 5:1, so PID 1 has a console before devtmpfs
//   /init         the image's own workload, usually a "#!/bin/sh" script
//   /script       the --script FILE, when given
//
// The script convention (see src/user/bin/init.ts): init runs `/bin/sh /script` when
// /script exists, else `/bin/sh /init` when /init is a shell script, else /etc/rc,
// else an interactive shell; when that shell exits, init powers the machine off with
// its exit status. So a --script replaces the image's demo without changing the tree.

import { readdirSync, readFileSync, readlinkSync, lstatSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXEC_MAGIC } from '../../src/arch/program.js';
import { userPrograms } from '../../src/user/rom.js';
import { writeCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js';

export interface BuildOptions {
  /** Files to add or replace: archive path ("/etc/motd" or "etc/motd") -> content. A content starting with "#!" is executable. */
  readonly extraFiles?: Readonly<Record<string, string | Uint8Array>>;
  /** A shell script run by init instead of the image's /init workload (stored as /script, mode 0755). */
  readonly script?: string | Uint8Array;
  /** Programs to install as /bin/<name> (default: every program of the user ROM). */
  readonly programs?: Iterable<string>;
}

/** Directories every image has, with their modes. */
export const STANDARD_DIRS: readonly (readonly [string, number])[] = [
  ['bin', 0o755],
  ['dev', 0o755],
  ['etc', 0o755],
  ['proc', 0o555],
  ['root', 0o700],
  ['sbin', 0o755],
  ['sys', 0o555],
  ['tmp', 0o1777],
];

const enc = new TextEncoder();

/** The content of an executable naming program `name` of the ROM. */
export function execStub(name: string): Uint8Array {
  return enc.encode(`${EXEC_MAGIC}${name}\n`);
}

function normalise(path: string): string {
  const p = path.split('/').filter((s) => s.length > 0 && s !== '.');
  if (p.length === 0 || p.includes('..')) throw new Error(`mkimage: bad archive path "${path}" (use a path like /etc/motd)`);
  return p.join('/');
}

function isScript(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x23 && data[1] === 0x21;
}

/**
 * Builds the initramfs for image tree `dir` (or only the generated files when
 * `dir` is undefined). Entries are sorted by path, parents first; mtimes are 0 and
 * inode numbers follow the order, so the same inputs give the same bytes.
 */
export function buildImage(dir: string | undefined, options: BuildOptions = {}): Uint8Array {
  const entries = new Map<string, CpioEntry>();
  const addDir = (name: string, mode = 0o755): void => {
    const old = entries.get(name);
    if (old === undefined || (old.mode & 0o170000) !== S_IFDIR) entries.set(name, { name, mode: S_IFDIR | mode });
  };
  const addParents = (name: string): void => {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!entries.has(d)) addDir(d);
    }
  };
  const addFile = (name: string, data: Uint8Array, mode?: number): void => {
    addParents(name);
    entries.set(name, { name, mode: S_IFREG | (mode ?? (isScript(data) ? 0o755 : 0o644)), data });
  };

  for (const [d, mode] of STANDARD_DIRS) addDir(d, mode);
  entries.set('dev/console', { name: 'dev/console', mode: S_IFCHR | 0o600, rdevmajor: 5, rdevminor: 1 });
  const programs = [...(options.programs ?? userPrograms.keys())].sort();
  for (const p of programs) {
    if (!/^[A-Za-z0-9_.+-]+$/.test(p)) throw new Error(`mkimage: program name "${p}" cannot be a file name`);
    addFile(`bin/${p}`, execStub(p), 0o755);
  }
  if (programs.includes('init')) addFile('sbin/init', execStub('init'), 0o755);

  if (dir !== undefined) {
    if (!existsSync(dir) || !lstatSync(dir).isDirectory()) throw new Error(`mkimage: image directory "${dir}" does not exist`);
    const walk = (host: string, rel: string): void => {
      for (const name of readdirSync(host).sort()) {
        const h = join(host, name);
        const r = rel === '' ? name : `${rel}/${name}`;
        const st = lstatSync(h);
        if (st.isDirectory()) {
          addDir(r, st.mode & 0o7777 & ~0o022);
          walk(h, r);
        } else if (st.isSymbolicLink()) {
          addParents(r);
          entries.set(r, { name: r, mode: S_IFLNK | 0o777, data: enc.encode(readlinkSync(h)) });
        } else if (st.isFile()) {
          const data = new Uint8Array(readFileSync(h));
          addFile(r, data, st.mode & 0o111 || isScript(data) ? 0o755 : 0o644);
        }
      }
    };
    walk(dir, '');
  }
  for (const [path, content] of Object.entries(options.extraFiles ?? {})) {
    addFile(normalise(path), typeof content === 'string' ? enc.encode(content) : content);
  }
  if (options.script !== undefined) {
    addFile('script', typeof options.script === 'string' ? enc.encode(options.script) : options.script, 0o755);
  }
  const sorted = [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return writeCpio(sorted);
}
