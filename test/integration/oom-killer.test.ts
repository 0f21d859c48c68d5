// The OOM killer on the real board (mm/oom_kill.c): user processes at EL0 exhaust
// RAM and swap through demand faults; the kernel picks the victim by badness and
// oom_score_adj, logs Linux's OOM report, kills it with SIGKILL (seen by the parent's
// wait4), reaps its memory, and the rest of the system keeps running with the
// allocator consistent.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { do_execve } from '../../src/kernel/fs/exec.js';
import { user_task_body } from '../../src/kernel/kernel/fork.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { mm_late_init } from '../../src/kernel/mm/late_init.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { current } from '../../src/kernel/sched/core.js';
import { PF_KTHREAD } from '../../src/kernel/sched/task.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const PAGE = 4096;
const MiB = 1024 * 1024;
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;
const O_RDONLY = 0;
const O_WRONLY = 1;
const SIGKILL = 9;

function* initWithMm(): Generator<unknown, number, unknown> {
  mm_late_init();
  const r = yield* do_execve('/init', ['/init'], []);
  if (typeof r === 'number') return 200;
  current().flags &= ~PF_KTHREAD;
  yield* user_task_body(r.entry, r.sp, false);
  return 0;
}

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
    console.log(con.split('\n').filter((l) => /oom|Out of memory|Killed|reap|Mem-Info|Node 0|Tasks|\[ +\d+\]|swap|Huh/.test(l)).slice(0, 60).join('\n'));
  });
});
