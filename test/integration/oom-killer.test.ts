// The OOM killer on the real board (mm/oom_kill.c): user processes at EL0 exhaust
// RAM and swap through demand faults; the kernel picks the victim by badness and
// oom_score_adj, logs Linux's OOM report, kills it with SIGKILL (seen by the parent's
// wait4), reaps its memory, and the rest of the system keeps running with the
// allocator consistent.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel, initWithMm } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const PAGE = 4096;
const MiB = 1024 * 1024;
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;
const O_RDONLY = 0;
const O_WRONLY = 1;
const SIGKILL = 9;

function boot(init: (cpu: ArchCpu, sp: number) => Generator<unknown, number, unknown>, ramSize = 64 * MiB) {
  return bootKernel({ ramSize, programs: { init }, files: { '/init': ['#!svasoc:init\n', 0o755] }, config: { initTask: initWithMm } });
}

function* mmap(u: UserCtx, len: number): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mmap, 0, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
}

function* readFile(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), O_RDONLY, 0);
  if (fd < 0) return `error ${fd}`;
  const buf = u.alloc(4096);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 4096);
  yield* u.sys(NR.__NR_close, fd);
  return n < 0 ? `error ${n}` : u.text(buf, n);
}

function* writeFile(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const r = yield* u.write(fd, text);
  yield* u.sys(NR.__NR_close, fd);
  return r;
}

/** A pipe: [read fd, write fd]. */
function* pipe(u: UserCtx): Generator<unknown, [number, number], unknown> {
  const fds = u.alloc(8);
  expect(yield* u.sys(NR.__NR_pipe2, fds, 0)).toBe(0);
  return [u.cpu.ld32(fds), u.cpu.ld32(fds + 4)];
}

/** Touches `pages` pages of a fresh mapping, writing i at each; returns the mapping. */
function* hog(u: UserCtx, pages: number): Generator<unknown, number, unknown> {
  const a = yield* mmap(u, pages * PAGE);
  for (let i = 0; i < pages; i++) {
    u.cpu.st32(a + i * PAGE, i);
    if (i % 512 === 511) yield* u.sys(NR.__NR_sched_yield);
  }
  return a;
}

/** A process that holds `pages` pages of data until told to check them (a byte on `rfd`): exit 0 when intact. */
function holder(pages: number, rfd: number, ready: number, adj?: string) {
  return function* (c: UserCtx): Generator<unknown, number, unknown> {
    if (adj !== undefined) expect(yield* writeFile(c, '/proc/self/oom_score_adj', adj)).toBeGreaterThan(0);
    const a = yield* mmap(c, pages * PAGE);
    for (let i = 0; i < pages; i++) c.cpu.st32(a + i * PAGE, 0x5000 + i);
    yield* c.write(ready, 'r');
    const b = c.alloc(1);
    yield* c.sys(NR.__NR_read, rfd, b, 1);
    for (let i = 0; i < pages; i++) if (c.cpu.ld32(a + i * PAGE) !== 0x5000 + i) return 1;
    return 0;
  };
}

describe('OOM killer (mm/oom_kill.c) end to end', () => {
  it('a memory hog that exhausts RAM and swap is killed with SIGKILL; a process holding data keeps it; the report is in the log; the allocator stays consistent', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const [rfd, wfd] = yield* pipe(u);
      const [rdy, wrdy] = yield* pipe(u);
      const keeper = yield* u.fork(holder(1024, rfd, wrdy));
      const b = u.alloc(1);
      yield* u.sys(NR.__NR_read, rdy, b, 1);
      const hogPid = yield* u.fork(function* (c) {
        yield* hog(c, (128 * MiB) / PAGE);
        return 3; // not reached: the OOM killer ends it
      });
      const [p1, s1] = yield* u.wait(hogPid);
      log.push(['hog', p1 === hogPid, s1 & 0x7f]);
      yield* u.write(wfd, 'x');
      const [, s2] = yield* u.wait(keeper);
      log.push(['keeper', s2]);
      log.push(['oom_kill', /oom_kill (\d+)/.exec(yield* readFile(u, '/proc/vmstat'))?.[1]]);
      // the system keeps running: new memory can be had again
      const a = yield* mmap(u, 256 * PAGE);
      for (let i = 0; i < 256; i++) cpu.st32(a + i * PAGE, i);
      log.push(['after', cpu.ld32(a + 255 * PAGE)]);
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(0);
    expect(log).toEqual([
      ['hog', true, SIGKILL],
      ['keeper', 0],
      ['oom_kill', '1'],
      ['after', 255],
    ]);
    const con = handle.console;
    expect(con).toMatch(/init invoked oom-killer|invoked oom-killer: gfp_mask=0x[0-9a-f]+\(GFP_HIGHUSER_MOVABLE\|__GFP_ZERO\), order=0, oom_score_adj=0/);
    expect(con).toContain('Mem-Info:');
    expect(con).toMatch(/\[  pid  \]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name/);
    expect(con).toMatch(/Out of memory: Killed process \d+ \(init\) total-vm:\d+kB, anon-rss:\d+kB, file-rss:\d+kB, shmem-rss:\d+kB, UID:0 pgtables:\d+kB oom_score_adj:0/);
    expect(global_page_state('oom_kill')).toBe(1);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });

  it('badness order: oom_score_adj +1000 is killed first though small, then the largest; -1000 is never killed; /proc/<pid>/oom_score ranks them (0 for -1000); the reaper unmaps each victim at once', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const [rfd, wfd] = yield* pipe(u);
      const [rdy, wrdy] = yield* pipe(u);
      const b = u.alloc(4);
      const small = yield* u.fork(holder(256, rfd, wrdy, '1000'));
      yield* u.sys(NR.__NR_read, rdy, b, 1);
      const big = yield* u.fork(holder(3000, rfd, wrdy));
      yield* u.sys(NR.__NR_read, rdy, b, 1);
      const biggest = yield* u.fork(holder(4000, rfd, wrdy, '-1000'));
      yield* u.sys(NR.__NR_read, rdy, b, 1);
      const score = (pid: number) => readFile(u, `/proc/${pid}/oom_score`);
      log.push(['scores', Number(yield* score(small)) > Number(yield* score(big)), Number(yield* score(big)) > 0, yield* score(biggest)]);
      // init (unkillable) allocates until two processes have been killed
      const a = yield* mmap(u, 16384 * PAGE);
      const killed: number[] = [];
      for (let i = 0; i < 16384 && killed.length < 4; i++) {
        cpu.st32(a + i * PAGE, i);
        if (i % 64 === 63) {
          const [pid, st] = yield* u.wait(-1, 1 /* WNOHANG */);
          if (pid > 0) killed.push(pid === small ? 1 : pid === big ? 2 : 3, st & 0x7f);
        }
      }
      yield* u.sys(NR.__NR_munmap, a, 16384 * PAGE);
      yield* u.write(wfd, 'x');
      const [, st] = yield* u.wait(biggest);
      log.push(['killed', ...killed], ['survivor', st]);
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(0);
    expect(log).toEqual([
      ['scores', true, true, '0\n'],
      ['killed', 1, SIGKILL, 2, SIGKILL],
      ['survivor', 0],
    ]);
    const con = handle.console;
    const kills = [...con.matchAll(/Out of memory: Killed process (\d+) \(init\).*oom_score_adj:(-?\d+)/g)].map((m) => Number(m[2]));
    expect(kills).toEqual([1000, 0]);
    expect(con.match(/oom_reaper: reaped process \d+ \(init\), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB/g)?.length).toBe(2);
    expect(con).toMatch(/oom_score_adj:1000/);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });

  it('oom_score_adj: -1000..1000 (else -EINVAL); going below oom_score_adj_min needs CAP_SYS_RESOURCE (-EACCES), a privileged write sets the floor; fork inherits both; another user\'s file is not writable', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const adj = (c: UserCtx) => readFile(c, '/proc/self/oom_score_adj');
      const w = (c: UserCtx, v: string) => writeFile(c, '/proc/self/oom_score_adj', v);
      // an unprivileged process: may raise and lower again, but not below the floor (0)
      const p1 = yield* u.fork(function* (c) {
        const r: unknown[] = [];
        r.push(yield* c.sys(NR.__NR_setuid, 1000));
        r.push(yield* w(c, '500'), yield* adj(c));
        r.push(yield* w(c, '0'), yield* w(c, '-1'), yield* adj(c));
        r.push(yield* w(c, '1001'), yield* w(c, '-1001'), yield* w(c, 'abc'), yield* w(c, '0x10'), yield* adj(c));
        r.push(yield* writeFile(c, '/proc/1/oom_score_adj', '5'));
        log.push(['user', ...r]);
        return 0;
      });
      yield* u.wait(p1);
      // root sets -500 (and the floor); after dropping privileges -600 is refused, -400 and -500 are not; a child inherits
      const p2 = yield* u.fork(function* (c) {
        const r: unknown[] = [];
        r.push(yield* w(c, '-500'));
        r.push(yield* c.sys(NR.__NR_setuid, 1000));
        r.push(yield* w(c, '-600'), yield* w(c, '-400'), yield* w(c, '-500'), yield* adj(c));
        yield* w(c, '700');
        const k = yield* c.fork(function* (cc) {
          log.push(['child', yield* adj(cc), yield* w(cc, '-500'), yield* w(cc, '-501')]);
          return 0;
        });
        yield* c.wait(k);
        log.push(['dropped', ...r]);
        return 0;
      });
      yield* u.wait(p2);
      log.push(['init', yield* adj(u)]);
      return 0;
    });
    expect(handle.runToPoweroff(20e9)).toBe(0);
    const EINVAL = -22;
    const EACCES = -13;
    expect(log).toEqual([
      ['user', 0, 3, '500\n', 1, EACCES, '0\n', EINVAL, EINVAL, EINVAL, 4, '16\n', EACCES],
      ['child', '700\n', 4, EACCES],
      ['dropped', 4, 0, EACCES, 4, 4, '-500\n'],
      ['init', '0\n'],
    ]);
  });

  it('vm.panic_on_oom=1: the OOM report, then "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled" and the machine stops', () => {
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      expect(yield* writeFile(u, '/proc/sys/vm/panic_on_oom', '1')).toBe(1);
      expect(yield* writeFile(u, '/proc/sys/vm/panic_on_oom', '3')).toBe(-22);
      const pid = yield* u.fork(function* (c) {
        yield* hog(c, (128 * MiB) / PAGE);
        return 3;
      });
      yield* u.wait(pid);
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(255);
    const con = handle.console;
    expect(con).toMatch(/invoked oom-killer: gfp_mask=0x[0-9a-f]+\(GFP_HIGHUSER_MOVABLE\|__GFP_ZERO\), order=0/);
    expect(con).toContain('Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled');
    expect(con).not.toContain('Killed process');
    expect(oops_count()).toBe(0);
  });

  it('vm.oom_kill_allocating_task=1: the allocating task is killed even when another process is larger', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      expect(yield* writeFile(u, '/proc/sys/vm/oom_kill_allocating_task', '1')).toBe(1);
      const [rfd, wfd] = yield* pipe(u);
      const [rdy, wrdy] = yield* pipe(u);
      const big = yield* u.fork(holder(2500, rfd, wrdy));
      yield* u.sys(NR.__NR_read, rdy, u.alloc(1), 1);
      const pid = yield* u.fork(function* (c) {
        yield* hog(c, (128 * MiB) / PAGE);
        return 3;
      });
      const [, st] = yield* u.wait(pid);
      yield* u.write(wfd, 'x');
      const [, st2] = yield* u.wait(big);
      log.push(st & 0x7f, st2);
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(0);
    expect(log).toEqual([SIGKILL, 0]);
    expect(handle.console).toMatch(/Out of memory \(oom_kill_allocating_task\): Killed process \d+ \(init\)/);
  });

  it('mlocked memory is unreclaimable: a process that mlocks more and more is the one killed (its mlock call), a swappable data holder survives', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const [rfd, wfd] = yield* pipe(u);
      const [rdy, wrdy] = yield* pipe(u);
      const keeper = yield* u.fork(holder(1000, rfd, wrdy));
      yield* u.sys(NR.__NR_read, rdy, u.alloc(1), 1);
      const pinner = yield* u.fork(function* (c) {
        const len = 96 * MiB;
        const a = yield* mmap(c, len);
        for (let off = 0; off < len; off += MiB) {
          const r = yield* c.sys(NR.__NR_mlock, a + off, MiB);
          if (r < 0) return 100 + -r; // not reached: killed on the way out of the failing mlock
        }
        return 2;
      });
      const [, st] = yield* u.wait(pinner);
      yield* u.write(wfd, 'x');
      const [, st2] = yield* u.wait(keeper);
      log.push(st & 0x7f, st2, global_page_state('nr_mlock'));
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(0);
    expect(log).toEqual([SIGKILL, 0, 0]);
    expect(handle.console).toMatch(/Out of memory: Killed process \d+ \(init\)/);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });

  it('a task faulting while another process (oom_score_adj 500) sleeps on mlocked memory gets it back: the sleeper is killed and reaped at once, mlocked pages included, and the faulting task finishes', () => {
    const log: unknown[] = [];
    const { handle } = boot(function* (cpu, sp) {
      const u = new UserCtx(cpu, sp);
      const [rfd, wfd] = yield* pipe(u);
      const [rdy, wrdy] = yield* pipe(u);
      const locker = yield* u.fork(function* (c) {
        if ((yield* writeFile(c, '/proc/self/oom_score_adj', '500')) < 0) return 2;
        const len = 12 * MiB;
        const a = yield* mmap(c, len);
        if ((yield* c.sys(NR.__NR_mlock, a, len)) !== 0) return 1;
        yield* c.write(wrdy, 'r');
        yield* c.sys(NR.__NR_read, rfd, c.alloc(1), 1);
        return 0;
      });
      yield* u.sys(NR.__NR_close, wrdy);
      expect(yield* u.sys(NR.__NR_read, rdy, u.alloc(1), 1)).toBe(1);
      const worker = yield* u.fork(function* (c) {
        const n = (24 * MiB) / PAGE;
        const a = yield* mmap(c, n * PAGE);
        for (let i = 0; i < n; i++) c.cpu.st32(a + i * PAGE, i);
        for (let i = 0; i < n; i += 97) if (c.cpu.ld32(a + i * PAGE) !== i) return 1;
        return 0;
      });
      const [, st] = yield* u.wait(worker);
      yield* u.write(wfd, 'x');
      const [, st2] = yield* u.wait(locker);
      log.push(st, st2 & 0x7f, global_page_state('nr_mlock'));
      return 0;
    });
    expect(handle.runToPoweroff(60e9)).toBe(0);
    expect(log).toEqual([0, SIGKILL, 0]);
    expect(handle.console).toMatch(/oom_reaper: reaped process \d+ \(init\), now anon-rss:0kB/);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });
});
