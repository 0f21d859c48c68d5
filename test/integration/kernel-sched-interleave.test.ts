// Cores interleave in virtual time: a core more than the machine's quantum ahead of
// another runnable core hands the run loop a turn at its next preemption point (return
// to user from a system call, the YIELD hint of a spin loop, cond_resched). Without it a
// task spinning on one core ran until it blocked and the other core's work waited.

import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { thisCpu } from '../../src/arch/index.js';
import { fork, shared_scratch, sys } from '../support/kernel-sched-user.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { cpu_relax } from '../../src/user/libc/cpu_relax.js';
import { cpu_relax as kernel_cpu_relax } from '../../src/kernel/arch/barrier.js';
import { kthread_run } from '../../src/kernel/kernel/kthread.js';
import { WorkStruct, alloc_workqueue, queue_work } from '../../src/kernel/kernel/workqueue.js';
import { HrTimer, hrtimer_start_ns } from '../../src/kernel/time/hrtimer.js';
import { Completion, complete, wait_for_completion } from '../../src/kernel/sched/wait.js';
import type { Machine } from '../../src/machine/board.js';
import { SCHED_SLICE_NS } from '../../src/kernel/sched/core.js';

const SIGKILL = 9;

/** Pins the caller to one core with sched_setaffinity (the mask in `scratch`). */
function* pin(scratch: number, cpu: number): Generator<unknown, number, unknown> {
  thisCpu().st64(scratch, 2 ** cpu);
  return yield* sys(NR.__NR_sched_setaffinity, 0, 8, scratch);
}

function bootWith(init: (shm: number) => Generator<unknown, number, unknown>): { machine: Machine; code: number | undefined } {
  const { machine, handle } = bootKernel({
    programs: {
      init: function* () {
        const shm = yield* shared_scratch();
        return yield* init(shm);
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(5e9);
  return { machine, code };
}

interface SpinLog {
  /** Host order of the two processes' iterations ('p' / 'c'). */
  order: string;
  /** Largest lag, in virtual time, of the other process's last published stamp behind this one's clock. */
  maxSkew: number;
  cpus: number[];
  first: number[];
  last: number[];
}

/**
 * Two processes pinned to cores 0 and 1, each `iters` times: a system call, then publish
 * its clock in shared memory and read the other's. Only the interval where both spin counts.
 */
function syscallSpin(nr: number, iters: number): SpinLog {
  const log: SpinLog = { order: '', maxSkew: 0, cpus: [-1, -1], first: [0, 0], last: [0, 0] };
  const body = function* (shm: number, me: number): Generator<unknown, number, unknown> {
    const other = 1 - me;
    expect(yield* pin(shm + 0x100 + 8 * me, me)).toBe(0);
    const cpu0 = thisCpu();
    log.cpus[me] = cpu0.id;
    log.first[me] = cpu0.now();
    cpu0.st64(shm + 16 + 8 * me, 1); // started
    for (let i = 0; i < iters; i++) {
      yield* sys(nr);
      const cpu = thisCpu();
      cpu.charge(500); // a little work per iteration
      const now = cpu.now();
      cpu.st64(shm + 8 * me, now);
      log.order += me === 0 ? 'p' : 'c';
      const seen = cpu.ld64(shm + 8 * other);
      const otherRunning = cpu.ld64(shm + 16 + 8 * other) === 1;
      if (otherRunning && seen > 0) log.maxSkew = Math.max(log.maxSkew, now - seen);
    }
    thisCpu().st64(shm + 16 + 8 * me, 2); // done
    log.last[me] = thisCpu().now();
    return 0;
  };
  const { code, machine } = bootWith(function* (shm) {
    const pid = yield* fork(() => body(shm, 1));
    expect(pid).toBeGreaterThan(1);
    yield* body(shm, 0);
    yield* sys(NR.__NR_wait4, pid, 0, 0, 0);
    return 0;
  });
  expect(code).toBe(0);
  expect(oops_count()).toBe(0);
  (log as { quantum?: number }).quantum = machine.quantumNs;
  return log;
}

describe('cores interleave in virtual time', () => {
  it('two processes pinned to two cores, spinning on sched_yield, overlap in time and see each other within a quantum', () => {
    const log = syscallSpin(NR.__NR_sched_yield, 600);
    const q = (log as { quantum?: number }).quantum!;
    expect(log.cpus).toEqual([0, 1]);
    // Both ran during the same stretch of virtual time ...
    expect(log.first[0]!).toBeLessThan(log.last[1]!);
    expect(log.first[1]!).toBeLessThan(log.last[0]!);
    // ... in alternating turns on the host, none longer than a quantum or two of iterations
    const runs = log.order.match(/p+|c+/g)!.map((r) => r.length);
    expect(runs.length).toBeGreaterThan(10);
    // ... and what one publishes in shared memory the other sees no more than a quantum late.
    expect(log.maxSkew).toBeLessThanOrEqual(q + 5_000);
  });

  it('the same with getppid (any system call returns to user through the preemption check)', () => {
    const log = syscallSpin(NR.__NR_getppid, 600);
    const q = (log as { quantum?: number }).quantum!;
    expect(log.cpus).toEqual([0, 1]);
    expect(log.maxSkew).toBeLessThanOrEqual(q + 5_000);
    expect(log.order.match(/p+|c+/g)!.length).toBeGreaterThan(10);
  });

  it('ping-pong through shared memory with cpu_relax spins (no system call): every hand-over is seen within a quantum', () => {
    const ROUNDS = 40;
    const handover: number[] = [];
    const stores: number[] = [];
    const spinner = function* (shm: number, me: number): Generator<unknown, number, unknown> {
      expect(yield* pin(shm + 0x100 + 8 * me, me)).toBe(0);
      for (let r = 0; r < ROUNDS; r++) {
        const want = 2 * r + me;
        while (thisCpu().ld32(shm) !== want) yield* cpu_relax();
        const cpu = thisCpu();
        if (stores.length > 0) handover.push(cpu.now() - stores[stores.length - 1]!);
        cpu.charge(3_000); // some work before handing over
        stores.push(cpu.now());
        cpu.st32(shm, want + 1);
      }
      return 0;
    };
    const { code, machine } = bootWith(function* (shm) {
      const pid = yield* fork(() => spinner(shm, 1));
      yield* spinner(shm, 0);
      yield* sys(NR.__NR_wait4, pid, 0, 0, 0);
      return 0;
    });
    expect(code).toBe(0);
    expect(handover.length).toBe(2 * ROUNDS - 1);
    // Cores run on local clocks at most a quantum apart: the core behind may see the other's
    // store up to a quantum before the store's own time, never more; the one ahead sees it
    // at its next turn, within a quantum after.
    for (const h of handover) expect(Math.abs(h)).toBeLessThanOrEqual(machine.quantumNs + 5_000);
    expect(oops_count()).toBe(0);
  });

  it('a cpu_relax spinner on core 0 sees the store of a process that a timer woke on core 1 within a quantum of it', () => {
    let stored = 0;
    let seen = 0;
    let sleptFrom = 0;
    const { code, machine } = bootWith(function* (shm) {
      const pid = yield* fork(function* () {
        expect(yield* pin(shm + 0x108, 1)).toBe(0);
        const ts = shm + 0x200;
        thisCpu().st64(ts, 0);
        thisCpu().st64(ts + 8, 1_000_000); // 1 ms
        sleptFrom = thisCpu().now();
        expect(yield* sys(NR.__NR_nanosleep, ts, 0)).toBe(0);
        stored = thisCpu().now();
        thisCpu().st32(shm, 1);
        return 0;
      });
      expect(yield* pin(shm + 0x100, 0)).toBe(0);
      while (thisCpu().ld32(shm) !== 1) yield* cpu_relax();
      seen = thisCpu().now();
      yield* sys(NR.__NR_wait4, pid, 0, 0, 0);
      return 0;
    });
    expect(code).toBe(0);
    expect(stored - sleptFrom).toBeGreaterThanOrEqual(1_000_000);
    expect(stored - sleptFrom).toBeLessThan(1_100_000);
    expect(seen).toBeGreaterThan(stored);
    expect(seen - stored).toBeLessThanOrEqual(machine.quantumNs + 5_000);
    expect(oops_count()).toBe(0);
  });

  it('a fatal signal ends a pure cpu_relax spinner at its spin (exit_to_user_mode at the YIELD hint)', () => {
    let status = -1;
    const { code } = bootWith(function* (shm) {
      const pid = yield* fork(function* () {
        for (;;) {
          thisCpu().ld32(shm);
          yield* cpu_relax();
        }
      });
      const ts = shm + 0x200;
      thisCpu().st64(ts, 0);
      thisCpu().st64(ts + 8, 500_000);
      yield* sys(NR.__NR_nanosleep, ts, 0);
      expect(yield* sys(NR.__NR_kill, pid, SIGKILL)).toBe(0);
      const st = shm + 0x300;
      expect(yield* sys(NR.__NR_wait4, pid, st, 0, 0)).toBe(pid);
      status = thisCpu().ld32(st);
      return 0;
    });
    expect(code).toBe(0);
    expect(status & 0x7f).toBe(SIGKILL);
    expect(oops_count()).toBe(0);
  });

  it('two pure cpu_relax spinners pinned to one core share it in scheduler slices (the slice is checked at the YIELD hint)', () => {
    let order = '';
    const ITER = 1200; // 10 us of work each: 12 ms per process
    const spinner = function* (shm: number, me: number): Generator<unknown, number, unknown> {
      expect(yield* pin(shm + 0x100 + 8 * me, 1)).toBe(0);
      for (let i = 0; i < ITER; i++) {
        thisCpu().charge(10_000);
        order += me === 0 ? 'p' : 'c';
        yield* cpu_relax();
      }
      return 0;
    };
    const { code } = bootWith(function* (shm) {
      const pid = yield* fork(() => spinner(shm, 1));
      yield* spinner(shm, 0);
      yield* sys(NR.__NR_wait4, pid, 0, 0, 0);
      return 0;
    });
    expect(code).toBe(0);
    const runs = order.match(/p+|c+/g)!.map((r) => r.length);
    // 24 ms of work in 4 ms slices: about six turns, none longer than a slice (+ one iteration).
    expect(runs.length).toBeGreaterThanOrEqual(5);
    for (const r of runs) expect(r).toBeLessThanOrEqual(SCHED_SLICE_NS / 10_000 + 1);
    expect(oops_count()).toBe(0);
  });

  it('kernel: work queued from a timer runs on the other core while a kthread spins with cpu_relax on this one', () => {
    const t: Record<string, number> = {};
    let flag = false;
    let ranOn = -1;
    const { handle, machine } = bootKernel({
      config: {
        *initTask() {
          const done = new Completion();
          const wq = alloc_workqueue('iopf_test', 0, 1);
          const work = new WorkStruct(function* () {
            t.work = thisCpu().now();
            ranOn = thisCpu().id;
            flag = true;
          });
          const spinner = kthread_run(function* () {
            const cpu = thisCpu();
            t.armed = cpu.now();
            hrtimer_start_ns(new HrTimer(() => queue_work(wq, work)), 200_000);
            while (!flag) yield* kernel_cpu_relax(thisCpu());
            t.seen = thisCpu().now();
            complete(done);
          }, 'spinner', 0);
          expect(typeof spinner).not.toBe('number');
          yield* wait_for_completion(done);
          return 0;
        },
      },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(ranOn).toBe(1);
    // The work ran soon after the timer, not after the spinner gave up.
    expect(t.work! - t.armed!).toBeGreaterThanOrEqual(200_000);
    expect(t.work! - t.armed!).toBeLessThan(200_000 + machine.quantumNs + 20_000);
    expect(t.seen! - t.work!).toBeLessThanOrEqual(machine.quantumNs + 5_000);
    expect(oops_count()).toBe(0);
  });

  it('determinism: two boots of the interleaved spinners give the same host order and the same virtual times', () => {
    const a = syscallSpin(NR.__NR_sched_yield, 200);
    const b = syscallSpin(NR.__NR_sched_yield, 200);
    expect(b.order).toBe(a.order);
    expect(b.first).toEqual(a.first);
    expect(b.last).toEqual(a.last);
    expect(b.maxSkew).toBe(a.maxSkew);
  });
});
