// sched_setaffinity / sched_getaffinity with Linux's semantics (kernel/sched/syscalls.c):
// cpumask size rules, errno paths, inheritance across fork, and migration of a task to
// an allowed core (itself before it returns to user space, or another task).

import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { thisCpu } from '../../src/arch/index.js';
import { fork, shared_scratch, sys } from '../support/kernel-sched-user.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { tasks_by_pid } from '../../src/kernel/kernel/pid.js';
import { kthread_run } from '../../src/kernel/kernel/kthread.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { WorkStruct, schedule_work } from '../../src/kernel/kernel/workqueue.js';

const EPERM = -1;
const ESRCH = -3;
const EFAULT = -14;
const EINVAL = -22;
const BAD_PTR = 0x10; // never mapped

function* setMask(buf: number, pid: number, mask: number, len = 8): Generator<unknown, number, unknown> {
  for (let i = 0; i < 16; i++) thisCpu().st8(buf + i, 0);
  thisCpu().st32(buf, mask);
  return yield* sys(NR.__NR_sched_setaffinity, pid, len, buf);
}

function* getMask(buf: number, pid: number, len = 8): Generator<unknown, [number, number], unknown> {
  for (let i = 0; i < 16; i++) thisCpu().st8(buf + i, 0xee);
  const r = yield* sys(NR.__NR_sched_getaffinity, pid, len, buf);
  return [r, r > 0 ? thisCpu().ld32(buf) : -1];
}

function run(init: () => Generator<unknown, number, unknown>, cpus = 2): number | undefined {
  const { handle } = bootKernel({ cpus, programs: { init }, files: { '/init': ['#!svasoc:init\n', 0o755] } });
  return handle.runToPoweroff(5e9);
}

describe('sched_setaffinity / sched_getaffinity', () => {
  it('getaffinity: the online CPUs, cpumask_size() (8) bytes written; len below nr_cpu_ids bits or not a multiple of 8 is EINVAL', () => {
    const got: unknown[] = [];
    expect(
      run(function* () {
        const b = yield* shared_scratch();
        got.push(yield* getMask(b, 0)); // 8 bytes: both CPUs
        got.push(yield* getMask(b, 0, 64)); // longer buffer: still 8 bytes written
        got.push(thisCpu().ld8(b + 8)); // byte 8 untouched by the kernel
        got.push((yield* getMask(b, 0, 4))[0]); // not a multiple of sizeof(long)
        got.push((yield* getMask(b, 0, 12))[0]);
        got.push((yield* getMask(b, 0, 0))[0]); // fewer bits than nr_cpu_ids
        got.push(yield* sys(NR.__NR_sched_getaffinity, 0, 8, BAD_PTR));
        got.push((yield* getMask(b, 4242))[0]);
        got.push((yield* getMask(b, -5))[0]);
        return 0;
      }, 3),
    ).toBe(0);
    expect(got).toEqual([[8, 0b111], [8, 0b111], 0xee, EINVAL, EINVAL, EINVAL, EFAULT, ESRCH, ESRCH]);
    expect(oops_count()).toBe(0);
  });

  it('setaffinity: empty or offline-only masks are EINVAL, a bad pointer EFAULT, an unknown pid ESRCH; a short mask is zero-extended and a long one cut', () => {
    const got: unknown[] = [];
    expect(
      run(function* () {
        const b = yield* shared_scratch();
        got.push(yield* setMask(b, 0, 0)); // empty
        got.push(yield* setMask(b, 0, 0b1000)); // CPU 3 does not exist on a 2-CPU board
        got.push(yield* sys(NR.__NR_sched_setaffinity, 0, 8, BAD_PTR));
        got.push(yield* setMask(b, 4242, 1));
        got.push((yield* getMask(b, 0))[1]); // unchanged by the failures
        got.push(yield* setMask(b, 0, 0b1010)); // CPU 3 dropped, CPU 1 kept
        got.push((yield* getMask(b, 0))[1]);
        // len 1: the other 7 bytes are taken as zero, whatever the buffer holds after them
        thisCpu().st32(b, 0xffff_ff01);
        got.push(yield* sys(NR.__NR_sched_setaffinity, 0, 1, b));
        got.push((yield* getMask(b, 0))[1]);
        // len 128: only cpumask_size() bytes are read (the rest may be anything, even unmapped)
        const end = b + 65536 - 8;
        thisCpu().st64(end, 3);
        got.push(yield* sys(NR.__NR_sched_setaffinity, 0, 128, end));
        got.push((yield* getMask(b, 0))[1]);
        return 0;
      }),
    ).toBe(0);
    expect(got).toEqual([EINVAL, EINVAL, EFAULT, ESRCH, 0b11, 0, 0b10, 0, 0b01, 0, 0b11]);
    expect(oops_count()).toBe(0);
  });

  it('a task that excludes its own core returns from the call on an allowed one, and moves back', () => {
    const cpus: number[] = [];
    expect(
      run(function* () {
        const b = yield* shared_scratch();
        cpus.push(thisCpu().id);
        expect(yield* setMask(b, 0, 0b10)).toBe(0);
        cpus.push(thisCpu().id);
        yield* sys(NR.__NR_getppid);
        cpus.push(thisCpu().id);
        expect(yield* setMask(b, 0, 0b01)).toBe(0);
        cpus.push(thisCpu().id);
        thisCpu().st32(b + 0x100, 7); // memory still reached through the process's own tables
        cpus.push(thisCpu().ld32(b + 0x100));
        return 0;
      }),
    ).toBe(0);
    expect(cpus).toEqual([0, 1, 1, 0, 7]);
    expect(oops_count()).toBe(0);
  });

  it('a forked child inherits the mask; the parent (root) moves a running child, which a user cannot do to root', () => {
    const log: unknown[] = [];
    expect(
      run(function* () {
        const b = yield* shared_scratch();
        expect(yield* setMask(b, 0, 0b10)).toBe(0);
        const pid = yield* fork(function* () {
          log.push(['child on', thisCpu().id, (yield* getMask(b + 0x40, 0))[1]]);
          // Spin until the parent moves us to CPU 0.
          while (thisCpu().id !== 0) yield* sys(NR.__NR_sched_yield);
          log.push(['child moved to', thisCpu().id]);
          expect(yield* sys(NR.__NR_setuid, 1000)).toBe(0);
          log.push(['user sets root parent', yield* setMask(b + 0x40, 1, 0b11)]);
          log.push(['user sets itself', yield* setMask(b + 0x40, 0, 0b11)]);
          return 0;
        });
        // The child runs on CPU 1 (inherited); the parent moves itself away, then moves the child.
        expect(yield* setMask(b, 0, 0b01)).toBe(0);
        expect(thisCpu().id).toBe(0);
        for (let i = 0; i < 20; i++) yield* sys(NR.__NR_sched_yield);
        log.push(['move child', yield* setMask(b, pid, 0b01)]);
        const st = b + 0x200;
        expect(yield* sys(NR.__NR_wait4, pid, st, 0, 0)).toBe(pid);
        log.push(['status', thisCpu().ld32(st)]);
        return 0;
      }),
    ).toBe(0);
    expect(log).toEqual([
      ['child on', 1, 0b10],
      ['move child', 0],
      ['child moved to', 0],
      ['user sets root parent', EPERM],
      ['user sets itself', 0],
      ['status', 0],
    ]);
    expect(oops_count()).toBe(0);
  });

  it('per-CPU kthreads and workqueue workers refuse affinity changes (PF_NO_SETAFFINITY): EINVAL; their mask reads back', () => {
    const got: unknown[] = [];
    expect(
      run(function* () {
        const b = yield* shared_scratch();
        // Kernel objects made from the test: a thread bound to CPU 1 and a system workqueue worker.
        const bound = kthread_run(function* () {
          yield* msleep(1000);
        }, 'bound/1', 1);
        const loose = kthread_run(function* () {
          yield* msleep(1000);
        }, 'loose');
        let ran = false;
        schedule_work(
          new WorkStruct(function* () {
            ran = true;
          }),
        );
        while (!ran) yield* sys(NR.__NR_sched_yield);
        const kw = tasks_by_pid().find((t) => t.comm === 'kworker/events');
        if (typeof bound === 'number' || typeof loose === 'number' || kw === undefined) return 1;
        got.push(yield* setMask(b, bound.pid, 0b01));
        got.push((yield* getMask(b, bound.pid))[1]);
        got.push(yield* setMask(b, kw.pid, 0b01));
        // An unbound kthread may be moved by root.
        got.push(yield* setMask(b, loose.pid, 0b10));
        got.push((yield* getMask(b, loose.pid))[1]);
        got.push(loose.cpu);
        return 0;
      }),
    ).toBe(0);
    expect(got).toEqual([EINVAL, 0b10, EINVAL, 0, 0b10, 1]);
    expect(oops_count()).toBe(0);
  });
});
