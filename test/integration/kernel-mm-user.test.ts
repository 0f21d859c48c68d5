// kernel-mm end to end on the real board: user programs at EL0 on real cores use the
// memory system calls, touch memory through the CPU MMU (demand faults through the
// kernel's vectors), fork, and read /proc/self/pagemap and /proc/self/status.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel, initWithMm } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const PAGE = 4096;
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;
const MAP_SHARED_ANON = 0x21;
const O_RDONLY = 0;
const O_WRONLY = 1;

function* mmap(u: UserCtx, len: number, flags = MAP_PRIVATE_ANON): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mmap, 0, len, PROT_RW, flags, -1, 0);
}

/** Reads `n` pagemap entries for `va` as [present, pfn] pairs. */
function* pagemap(u: UserCtx, va: number, n: number): Generator<unknown, [boolean, number][], unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/proc/self/pagemap'), O_RDONLY, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  const buf = u.alloc(8 * n);
  const r = yield* u.sys(NR.__NR_pread64, fd, buf, 8 * n, (va / PAGE) * 8);
  if (r !== 8 * n) throw new Error(`pagemap pread returned ${r}`);
  yield* u.sys(NR.__NR_close, fd);
  const out: [boolean, number][] = [];
  for (let i = 0; i < n; i++) {
    const lo = u.cpu.ld32(buf + 8 * i);
    const hi = u.cpu.ld32(buf + 8 * i + 4);
    out.push([(hi & 0x8000_0000) !== 0, (hi & 0x7fffff) * 2 ** 32 + lo]);
  }
  return out;
}

function* readFile(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), O_RDONLY, 0);
  if (fd < 0) return `error ${fd}`;
  const buf = u.alloc(8192);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 8192);
  yield* u.sys(NR.__NR_close, fd);
  return u.text(buf, Math.max(0, n));
}

function* writeFile(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const r = yield* u.write(fd, text);
  yield* u.sys(NR.__NR_close, fd);
  return r;
}

function boot(init: (cpu: ArchCpu, sp: number) => Generator<unknown, number, unknown>, ramSize = 256 * 1024 * 1024) {
  return bootKernel({ ramSize, programs: { init }, files: { '/init': ['#!svasoc:init\n', 0o755] }, config: { initTask: initWithMm } });
}

describe('kernel-mm from user space on real cores', () => {
  it('demand paging and COW after fork: parent and child keep their own data; pagemap shows the PFNs split', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const a = yield* mmap(u, 4 * PAGE);
      expect(a).toBeGreaterThan(0);
      expect((yield* pagemap(u, a, 1))[0]![0]).toBe(false); // nothing yet: demand paging
      for (let i = 0; i < 4; i++) cpu.st32(a + i * PAGE, 100 + i);
      const before = yield* pagemap(u, a, 4);
      log.push(['present', before.every(([p]) => p)]);
      const pid = yield* u.fork(function* (c) {
        const shared = (yield* pagemap(c, a, 1))[0]![1];
        c.cpu.st32(a, 999);
        const own = (yield* pagemap(c, a, 1))[0]![1];
        return shared === before[0]![1] && own !== shared && c.cpu.ld32(a) === 999 ? 0 : 1;
      });
      const [, status] = yield* u.wait(pid);
      log.push(['child', status]);
      log.push(['parent', cpu.ld32(a), (yield* pagemap(u, a, 1))[0]![1] === before[0]![1]]);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(log).toEqual([
      ['present', true],
      ['child', 0],
      ['parent', 100, true],
    ]);
    expect(oops_count()).toBe(0);
  });

  it('MADV_WIPEONFORK: the child reads zeros; MAP_SHARED anonymous memory is shared with it', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const w = yield* mmap(u, PAGE);
      const s = yield* mmap(u, PAGE, MAP_SHARED_ANON);
      cpu.st32(w, 0x5ec7e7);
      cpu.st32(s, 1);
      expect(yield* u.sys(NR.__NR_madvise, w, PAGE, 18 /* MADV_WIPEONFORK */)).toBe(0);
      const pid = yield* u.fork(function* (c) {
        const seen = c.cpu.ld32(w);
        c.cpu.st32(s, 2);
        return seen === 0 ? 0 : 1;
      });
      const [, status] = yield* u.wait(pid);
      log.push(status, cpu.ld32(w), cpu.ld32(s));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(log).toEqual([0, 0x5ec7e7, 2]);
  });

  it('/proc/sys/vm/compact_memory migrates pages: their PFNs in pagemap change, the data does not', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const n = 64;
      const a = yield* mmap(u, n * PAGE);
      for (let i = 0; i < n; i++) cpu.st32(a + i * PAGE, 7 * i);
      // free every other page to fragment memory
      for (let i = 0; i < n; i += 2) yield* u.sys(NR.__NR_madvise, a + i * PAGE, PAGE, 4 /* MADV_DONTNEED */);
      const before = yield* pagemap(u, a, n);
      expect(yield* writeFile(u, '/proc/sys/vm/compact_memory', '1\n')).toBeGreaterThan(0);
      const after = yield* pagemap(u, a, n);
      let moved = 0;
      let ok = true;
      for (let i = 1; i < n; i += 2) {
        if (after[i]![1] !== before[i]![1]) moved++;
        if (cpu.ld32(a + i * PAGE) !== 7 * i) ok = false;
      }
      log.push(moved > 0, ok);
      const vmstat = yield* readFile(u, '/proc/vmstat');
      log.push(/pgmigrate_success [1-9]/.test(vmstat));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(log).toEqual([true, true, true]);
  });

  it('RLIMIT_MEMLOCK: mlock beyond it is -ENOMEM for an unprivileged task, root bypasses it; VmLck shows locked memory', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const a = yield* mmap(u, 32 * PAGE);
      expect(yield* u.sys(NR.__NR_mlock, a, 32 * PAGE)).toBe(0); // root: CAP_IPC_LOCK
      const status = yield* readFile(u, '/proc/self/status');
      log.push(/VmLck:\s+128 kB/.test(status), /VmPin:\s+0 kB/.test(status));
      expect(yield* u.sys(NR.__NR_munlock, a, 32 * PAGE)).toBe(0);
      const pid = yield* u.fork(function* (c) {
        expect(yield* c.sys(NR.__NR_setuid, 1000)).toBe(0);
        const big = yield* c.sys(NR.__NR_mlock, a, 32 * PAGE); // 128 KiB fits the default 8 MiB limit
        const rl = c.alloc(16);
        c.cpu.st64(rl, 16 * PAGE);
        c.cpu.st64(rl + 8, 16 * PAGE);
        yield* c.sys(NR.__NR_munlock, a, 32 * PAGE);
        expect(yield* c.sys(NR.__NR_setrlimit, 8 /* RLIMIT_MEMLOCK */, rl)).toBe(0);
        const over = yield* c.sys(NR.__NR_mlock, a, 32 * PAGE);
        const under = yield* c.sys(NR.__NR_mlock, a, 8 * PAGE);
        return big === 0 && over === -12 && under === 0 ? 0 : 1;
      });
      const [, st] = yield* u.wait(pid);
      log.push(st);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(log).toEqual([true, true, 0]);
  });

  it('memory pressure: a task touching more than free memory wakes kswapd, swaps, and kcompactd compacts afterwards', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      // More than is free (what the drivers left of a 64 MiB machine), less than free + swap.
      const before = yield* readFile(u, '/proc/meminfo');
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(before)?.[1] ?? -1);
      const freeKb = kb('MemFree');
      const swapKb = kb('SwapFree');
      log.push(freeKb > 0 && swapKb > 8192);
      const n = Math.floor((freeKb + Math.min(swapKb / 2, 8192)) / 4);
      const a = yield* mmap(u, n * PAGE);
      expect(a).toBeGreaterThan(0);
      for (let i = 0; i < n; i++) cpu.st32(a + i * PAGE, i ^ 0x5a5a);
      let ok = true;
      for (let i = 0; i < n; i += 61) if (cpu.ld32(a + i * PAGE) !== (i ^ 0x5a5a)) ok = false;
      log.push(ok);
      // give the kernel threads time to run
      const ts = u.alloc(16);
      cpu.st64(ts, 0);
      cpu.st64(ts + 8, 20_000_000);
      yield* u.sys(101 /* nanosleep */, ts, 0);
      const vmstat = yield* readFile(u, '/proc/vmstat');
      const v = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(vmstat)?.[1] ?? -1);
      log.push(v('pswpout') > 0, v('pageoutrun') > 0, v('pgsteal_kswapd') + v('pgsteal_direct') > 0, v('compact_daemon_wake') > 0);
      const meminfo = yield* readFile(u, '/proc/meminfo');
      log.push(/SwapFree:/.test(meminfo));
      return 0;
    }, 64 * 1024 * 1024);
    expect(handle.runToPoweroff(20e9)).toBe(0);
    expect(log).toEqual([true, true, true, true, true, true, true]);
    expect(oops_count()).toBe(0);
  });

  it('bad arguments give errno values, never host exceptions', () => {
    const log: number[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      log.push(yield* u.sys(NR.__NR_mmap, 0, 0, PROT_RW, MAP_PRIVATE_ANON, -1, 0)); // len 0
      log.push(yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_RW, 0x02, 99, 0)); // bad fd
      log.push(yield* u.sys(NR.__NR_munmap, 123, PAGE)); // unaligned
      const a = yield* mmap(u, PAGE);
      log.push(yield* u.sys(NR.__NR_mincore, a, PAGE, 0x10)); // bad vector
      log.push(yield* u.sys(NR.__NR_mprotect, a, PAGE, 0x1000)); // bad prot
      log.push(yield* u.sys(NR.__NR_madvise, a, PAGE, 77)); // bad advice
      void cpu;
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(log).toEqual([-22, -9, -22, -14, -22, -22]);
    expect(oops_count()).toBe(0);
  });
});
