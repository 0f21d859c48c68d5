// eventfd(2) semantics (fs/eventfd.c, man 2 eventfd) through eventfd2 on the booted
// kernel: read returns and zeroes the counter (EFD_SEMAPHORE: 1 and decrement),
// blocks or -EAGAIN when it is 0, write adds and blocks or -EAGAIN past
// 0xfffffffffffffffe, 8-byte buffers only, poll IN/OUT/ERR, flags, -EFAULT, -ESPIPE,
// and kernel producers (eventfd_signal) saturating at the maximum.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { eventfd_ctx_fdget, eventfd_signal } from '../../src/kernel/fs/eventfd.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const EFD_SEMAPHORE = 1;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const POLLIN = 1;
const POLLOUT = 4;
const POLLERR = 8;
const F_GETFD = 1;
const MAX = 0xfffffffffffffffen;

describe('eventfd2', () => {
  const got: Record<string, unknown> = {};
  const { handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const b = u.alloc(16);
        const rd = function* (fd: number, n = 8): Generator<unknown, number | bigint, unknown> {
          const r = yield* u.sys(NR.__NR_read, fd, b, n);
          return r === 8 ? cpu.ld64n(b) : r;
        };
        const wr = function* (fd: number, v: bigint, n = 8): Generator<unknown, number, unknown> {
          cpu.st64(b + 8, v);
          return yield* u.sys(NR.__NR_write, fd, b + 8, n);
        };
        const pollfd = u.alloc(8);
        const zero = u.alloc(16);
        const poll = function* (fd: number): Generator<unknown, number, unknown> {
          cpu.st32(pollfd, fd);
          cpu.st16(pollfd + 4, POLLIN | POLLOUT);
          cpu.st16(pollfd + 6, 0);
          yield* u.sys(NR.__NR_ppoll, pollfd, 1, zero, 0, 0);
          return cpu.ld16(pollfd + 6);
        };
        got.badFlags = yield* u.sys(NR.__NR_eventfd2, 0, 0x40);
        const fd = yield* u.sys(NR.__NR_eventfd2, 5, EFD_NONBLOCK);
        got.pollInit = yield* poll(fd);
        got.read5 = yield* rd(fd);
        got.readEmpty = yield* rd(fd);
        got.pollEmpty = yield* poll(fd);
        got.shortRead = yield* rd(fd, 7);
        got.shortWrite = yield* wr(fd, 1n, 7);
        got.writeMaxU64 = yield* wr(fd, 0xffffffffffffffffn);
        got.write3 = yield* wr(fd, 3n);
        got.write4 = yield* wr(fd, 4n);
        got.readSum = yield* rd(fd);
        got.writeMax = yield* wr(fd, MAX);
        got.pollFull = yield* poll(fd);
        got.writeOverflow = yield* wr(fd, 1n);
        got.writeZero = yield* wr(fd, 0n);
        got.readMax = yield* rd(fd);
        got.lseek = yield* u.sys(NR.__NR_lseek, fd, 0, 0);
        got.writeBadPtr = yield* u.sys(NR.__NR_write, fd, 0x10, 8);
        got.readBadPtr = yield* (function* () {
          yield* wr(fd, 2n);
          return yield* u.sys(NR.__NR_read, fd, 0x10, 8);
        })();
        // semaphore mode: one at a time
        const sem = yield* u.sys(NR.__NR_eventfd2, 3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
        got.sem = [yield* rd(sem), yield* rd(sem), yield* rd(sem), yield* rd(sem)];
        got.cloexec = [yield* u.sys(NR.__NR_fcntl, sem, F_GETFD, 0), yield* u.sys(NR.__NR_fcntl, fd, F_GETFD, 0)];
        // kernel producers: eventfd_signal adds, saturating at 2^64-1 (EPOLLERR)
        const kctx = eventfd_ctx_fdget(sem);
        got.fdgetOther = eventfd_ctx_fdget(0);
        got.fdgetNone = eventfd_ctx_fdget(77);
        if (typeof kctx !== 'number') {
          eventfd_signal(kctx);
          eventfd_signal(kctx, 2);
          got.semAfterSignal = [yield* rd(sem), yield* rd(sem), yield* rd(sem), yield* rd(sem)];
        }
        const sat = yield* u.sys(NR.__NR_eventfd2, 0, EFD_NONBLOCK);
        yield* wr(sat, MAX - 1n);
        const sctx = eventfd_ctx_fdget(sat);
        if (typeof sctx !== 'number') eventfd_signal(sctx, 10);
        got.pollSaturated = yield* poll(sat);
        got.readSaturated = yield* rd(sat);
        // blocking: a read sleeps until another process writes; a write sleeps until a read makes room
        const blk = yield* u.sys(NR.__NR_eventfd2, 0, 0);
        const child = yield* u.fork(function* (c) {
          const ts = c.alloc(16);
          c.cpu.st64(ts, 0);
          c.cpu.st64(ts + 8, 5_000_000);
          yield* c.sys(NR.__NR_nanosleep, ts, 0);
          const v = c.alloc(8);
          c.cpu.st64(v, 42n);
          yield* c.sys(NR.__NR_write, blk, v, 8);
          // now fill it up: this write waits for the parent's next read
          c.cpu.st64(v, MAX);
          const r = yield* c.sys(NR.__NR_write, blk, v, 8);
          return r === 8 ? 0 : 1;
        });
        got.blockingRead = yield* rd(blk);
        const ts = u.alloc(16);
        cpu.st64(ts, 0);
        cpu.st64(ts + 8, 5_000_000);
        yield* u.sys(NR.__NR_nanosleep, ts, 0);
        got.afterFill = yield* rd(blk);
        const [, status] = yield* u.wait(child);
        got.childWriteBlocked = status >> 8;
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(20e9);

  it('runs to the end', () => {
    expect(code).toBe(0);
  });

  it('unknown flags -EINVAL; EFD_CLOEXEC sets FD_CLOEXEC', () => {
    expect(got.badFlags).toBe(-22);
    expect(got.cloexec).toEqual([1, 0]);
  });

  it('read returns the counter and zeroes it; empty with O_NONBLOCK -EAGAIN; buffers under 8 bytes -EINVAL', () => {
    expect(got.read5).toBe(5n);
    expect(got.readEmpty).toBe(-11);
    expect(got.shortRead).toBe(-22);
    expect(got.shortWrite).toBe(-22);
  });

  it('poll: IN when non-zero, OUT while 1 more fits, ERR only at 2^64-1', () => {
    expect(got.pollInit).toBe(POLLIN | POLLOUT);
    expect(got.pollEmpty).toBe(POLLOUT);
    expect(got.pollFull).toBe(POLLIN);
    expect(got.pollSaturated).toBe(POLLIN | POLLERR);
  });

  it('write adds; 2^64-1 is -EINVAL; past 2^64-2 -EAGAIN non-blocking; 0 is accepted', () => {
    expect(got.writeMaxU64).toBe(-22);
    expect([got.write3, got.write4, got.readSum]).toEqual([8, 8, 7n]);
    expect(got.writeMax).toBe(8);
    expect(got.writeOverflow).toBe(-11);
    expect(got.writeZero).toBe(8);
    expect(got.readMax).toBe(MAX);
  });

  it('no seeking (-ESPIPE); bad user buffers -EFAULT', () => {
    expect(got.lseek).toBe(-29);
    expect(got.writeBadPtr).toBe(-14);
    expect(got.readBadPtr).toBe(-14);
  });

  it('EFD_SEMAPHORE: each read returns 1 and decrements', () => {
    expect(got.sem).toEqual([1n, 1n, 1n, -11]);
    expect(got.semAfterSignal).toEqual([1n, 1n, 1n, -11]);
  });

  it('eventfd_ctx_fdget refuses other files (-EINVAL) and closed fds (-EBADF); eventfd_signal saturates at 2^64-1', () => {
    expect(got.fdgetOther).toBe(-22);
    expect(got.fdgetNone).toBe(-9);
    expect(got.readSaturated).toBe(0xffffffffffffffffn);
  });

  it('a blocking read sleeps until another process writes; a blocking write sleeps until a read makes room', () => {
    expect(got.blockingRead).toBe(42n);
    expect(got.afterFill).toBe(MAX);
    expect(got.childWriteBlocked).toBe(0);
  });
});
