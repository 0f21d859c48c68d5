// mmap of tmpfs files from user space on the booted board: programs at EL0 open a
// file in /tmp, map it and use plain loads and stores through the CPU MMU; read() and
// write() of the same file, a fork child and a second mapping all see the same page
// cache. Beyond the end of the file (also after ftruncate shrank it under the
// mapping) the access is killed with SIGBUS; /proc/self/maps names the file.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const PAGE = 4096;
const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const SIGBUS = 7;

function run(init: (u: UserCtx) => Generator<unknown, number, unknown>): number | undefined {
  const { handle } = bootKernel({
    programs: { init: (cpu: ArchCpu, sp: number) => init(new UserCtx(cpu, sp)) },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  return handle.runToPoweroff(10e9);
}

/** Creates `path` with `pages` pages, word 0 of page i = tag + i (written with write(2)). */
function* createFile(u: UserCtx, path: string, pages: number, tag: number): Generator<unknown, number, unknown> {
  yield* u.sys(NR.__NR_mkdirat, AT_FDCWD, u.str('/tmp'), 0o1777);
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_RDWR | O_CREAT, 0o644);
  if (fd < 0) return fd;
  const buf = u.alloc(PAGE);
  for (let i = 0; i < pages; i++) {
    u.cpu.st32(buf, tag + i);
    const w = yield* u.sys(NR.__NR_write, fd, buf, PAGE);
    if (w !== PAGE) return -1000 - w;
  }
  return fd;
}

function* pread32(u: UserCtx, fd: number, off: number): Generator<unknown, number, unknown> {
  const b = u.alloc(4);
  const r = yield* u.sys(NR.__NR_pread64, fd, b, 4, off);
  return r === 4 ? u.cpu.ld32(b) >>> 0 : -1;
}

function* pwrite32(u: UserCtx, fd: number, off: number, v: number): Generator<unknown, number, unknown> {
  const b = u.alloc(4);
  u.cpu.st32(b, v);
  return yield* u.sys(NR.__NR_pwrite64, fd, b, 4, off);
}

function* readText(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_RDONLY, 0);
  if (fd < 0) return `error ${fd}`;
  const buf = u.alloc(16384);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 16384);
  yield* u.sys(NR.__NR_close, fd);
  return u.text(buf, Math.max(0, n));
}

describe('mmap of a tmpfs file from user space', () => {
  it('MAP_SHARED: a fork child\'s stores (through the inherited mapping and its own) reach the parent and read(); write() reaches the mapping; maps names the file', () => {
    const got: Record<string, unknown> = {};
    const code = run(function* (u) {
      const fd = yield* createFile(u, '/tmp/shared.bin', 4, 0x100);
      if (fd < 0) return 10;
      const a = yield* u.sys(NR.__NR_mmap, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      got.first = [u.cpu.ld32(a), u.cpu.ld32(a + 3 * PAGE)];
      const pid = yield* u.fork(function* (c) {
        c.cpu.st32(a + PAGE + 16, 0xc0ffee);
        // its own mapping of the file, made after the fork
        const cfd = yield* c.sys(NR.__NR_openat, AT_FDCWD, c.str('/tmp/shared.bin'), O_RDWR, 0);
        const m = yield* c.sys(NR.__NR_mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, PAGE);
        c.cpu.st32(m + 20, 0xbeef);
        return c.cpu.ld32(a + 2 * PAGE) === 0x102 && c.cpu.ld32(m + 16) === 0xc0ffee ? 0 : 1;
      });
      got.child = (yield* u.wait(pid))[1];
      got.parentSees = [u.cpu.ld32(a + PAGE + 16), u.cpu.ld32(a + PAGE + 20)];
      got.readSees = yield* pread32(u, fd, PAGE + 16);
      expect(yield* pwrite32(u, fd, 3 * PAGE + 4, 0xfeed)).toBe(4);
      got.mapSees = u.cpu.ld32(a + 3 * PAGE + 4);
      // a second, read-only mapping of part of the file at offset 2 pages
      const ro = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tmp/shared.bin'), O_RDONLY, 0);
      const b = yield* u.sys(NR.__NR_mmap, 0, 2 * PAGE, PROT_READ, MAP_SHARED, ro, 2 * PAGE);
      got.second = u.cpu.ld32(b + PAGE + 4);
      got.maps = yield* readText(u, '/proc/self/maps');
      got.addrs = [a, b];
      return 0;
    });
    expect(code).toBe(0);
    expect(got.first).toEqual([0x100, 0x103]);
    expect(got.child).toBe(0);
    expect(got.parentSees).toEqual([0xc0ffee, 0xbeef]);
    expect(got.readSees).toBe(0xc0ffee);
    expect(got.mapSees).toBe(0xfeed);
    expect(got.second).toBe(0xfeed);
    const [a, b] = got.addrs as number[];
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    expect(got.maps).toMatch(new RegExp(`^${hex(a!)}-${hex(a! + 4 * PAGE)} rw-s 00000000 00:\\d\\d \\d+ +/tmp/shared\\.bin$`, 'm'));
    expect(got.maps).toMatch(new RegExp(`^${hex(b!)}-${hex(b! + 2 * PAGE)} r--s 00002000 00:\\d\\d \\d+ +/tmp/shared\\.bin$`, 'm'));
    expect(oops_count()).toBe(0);
  });

  it('MAP_PRIVATE: stores are the process\'s own copy, the file keeps its data; a read-only fd refuses a shared writable map (-EACCES)', () => {
    const got: Record<string, unknown> = {};
    const code = run(function* (u) {
      const fd = yield* createFile(u, '/tmp/private.bin', 2, 0x200);
      const p = yield* u.sys(NR.__NR_mmap, 0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      u.cpu.st32(p, 0xbad);
      got.mine = u.cpu.ld32(p);
      got.file = yield* pread32(u, fd, 0);
      const ro = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tmp/private.bin'), O_RDONLY, 0);
      got.sharedWrite = yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
      const priv = yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
      got.privOk = priv > 0 && u.cpu.ld32(priv) === 0x200;
      return 0;
    });
    expect(code).toBe(0);
    expect(got).toEqual({ mine: 0xbad, file: 0x200, sharedWrite: -13, privOk: true });
  });

  it('beyond the end of the file, and after ftruncate shrank it under the mapping, an access kills the task with SIGBUS', () => {
    const got: Record<string, unknown> = {};
    const code = run(function* (u) {
      const fd = yield* createFile(u, '/tmp/trunc.bin', 3, 0x300);
      const a = yield* u.sys(NR.__NR_mmap, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      got.inside = u.cpu.ld32(a + 2 * PAGE);
      const beyond = yield* u.fork(function* (c) {
        c.cpu.ld32(a + 3 * PAGE); // the file has 3 pages
        return 0;
      });
      got.beyond = (yield* u.wait(beyond))[1] & 0x7f;
      expect(yield* u.sys(NR.__NR_ftruncate, fd, PAGE)).toBe(0);
      const after = yield* u.fork(function* (c) {
        c.cpu.st32(a + 2 * PAGE, 1);
        return 0;
      });
      got.afterTruncate = (yield* u.wait(after))[1] & 0x7f;
      got.stillMapped = u.cpu.ld32(a);
      // unlinked and closed, the file lives on in its mapping (the VMA holds the file)
      yield* u.sys(NR.__NR_close, fd);
      got.unlink = yield* u.sys(NR.__NR_unlinkat, AT_FDCWD, u.str('/tmp/trunc.bin'), 0);
      u.cpu.st32(a + 8, 0x77);
      got.afterUnlink = [u.cpu.ld32(a), u.cpu.ld32(a + 8)];
      return 0;
    });
    expect(code).toBe(0);
    expect(got).toEqual({ inside: 0x302, beyond: SIGBUS, afterTruncate: SIGBUS, stillMapped: 0x300, unlink: 0, afterUnlink: [0x300, 0x77] });
    expect(oops_count()).toBe(0);
  });
});
