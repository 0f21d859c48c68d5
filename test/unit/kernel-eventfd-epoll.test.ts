// eventfd under edge-triggered epoll (fs/eventfd.c eventfd_write): every successful
// write wakes the eventfd's wait queue with EPOLLIN, a write of 0 included, so an
// EPOLLIN|EPOLLET watcher of a non-zero counter is told again; an EPOLLOUT-only
// watcher is not (the wake-up's key is EPOLLIN). A read wakes with EPOLLOUT.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const EFD_NONBLOCK = 0o4000;
const EPOLLIN = 1;
const EPOLLOUT = 4;
const EPOLLET = 2 ** 31;
const EPOLL_CTL_ADD = 1;

describe('eventfd2 with EPOLLET', () => {
  const got: Record<string, unknown> = {};
  const { handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const v = u.alloc(8);
        const evs = u.alloc(16 * 4);
        const ev = u.alloc(16);
        const write = function* (fd: number, n: number): Generator<unknown, number, unknown> {
          cpu.st64(v, n);
          return yield* u.sys(NR.__NR_write, fd, v, 8);
        };
        // epoll_pwait with timeout 0: the number of events reported
        const ready = function* (ep: number): Generator<unknown, number, unknown> {
          return yield* u.sys(NR.__NR_epoll_pwait, ep, evs, 4, 0, 0, 8);
        };
        const watch = function* (ep: number, fd: number, events: number): Generator<unknown, number, unknown> {
          cpu.st32(ev, events >>> 0);
          cpu.st64(ev + 8, fd);
          return yield* u.sys(NR.__NR_epoll_ctl, ep, EPOLL_CTL_ADD, fd, ev);
        };
        const inFd = yield* u.sys(NR.__NR_eventfd2, 1, EFD_NONBLOCK);
        const epIn = yield* u.sys(NR.__NR_epoll_create1, 0);
        got.addIn = yield* watch(epIn, inFd, EPOLLIN | EPOLLET);
        const inSeq: number[] = [];
        inSeq.push(yield* ready(epIn)); // reported once
        inSeq.push(yield* ready(epIn)); // edge consumed
        inSeq.push(yield* write(inFd, 0));
        inSeq.push(yield* ready(epIn)); // the write of 0 woke it
        inSeq.push(yield* ready(epIn));
        got.inSeq = inSeq;

        const outFd = yield* u.sys(NR.__NR_eventfd2, 1, EFD_NONBLOCK);
        const epOut = yield* u.sys(NR.__NR_epoll_create1, 0);
        got.addOut = yield* watch(epOut, outFd, EPOLLOUT | EPOLLET);
        const outSeq: number[] = [];
        outSeq.push(yield* ready(epOut));
        outSeq.push(yield* ready(epOut));
        outSeq.push(yield* write(outFd, 0));
        outSeq.push(yield* ready(epOut)); // EPOLLIN wake-ups do not concern it
        outSeq.push(yield* u.sys(NR.__NR_read, outFd, v, 8));
        outSeq.push(yield* ready(epOut)); // a read wakes with EPOLLOUT
        got.outSeq = outSeq;
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(20e9);

  it('runs to the end', () => {
    expect(code).toBe(0);
    expect([got.addIn, got.addOut]).toEqual([0, 0]);
  });

  it('a write of 0 wakes an EPOLLIN|EPOLLET watcher of a non-zero counter once more', () => {
    expect(got.inSeq).toEqual([1, 0, 8, 1, 0]);
  });

  it('an EPOLLOUT|EPOLLET watcher is not woken by writes (EPOLLIN key) but is by a read', () => {
    expect(got.outSeq).toEqual([1, 0, 8, 0, 8, 1]);
  });
});
