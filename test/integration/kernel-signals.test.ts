import { describe, it, expect } from 'vitest';
import { bootKernel, bootUserInit } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { console_output } from '../../src/kernel/lib/printk.js';
import type { ArchCpu } from '../../src/arch/index.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';

function timespec(u: UserCtx, ns: number): number {
  const a = u.alloc(16);
  u.cpu.st64(a, Math.floor(ns / 1e9));
  u.cpu.st64(a + 8, ns % 1e9);
  return a;
}

describe('signals, sleeping and waiting', () => {
  it('kill(SIGTERM) ends a child blocked in nanosleep; wait4 reports WTERMSIG 15', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      const pid = yield* u.fork(function* (c) {
        yield* c.sys(NR.__NR_nanosleep, timespec(c, 10e9), 0);
        return 1;
      });
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 1e6), 0);
      res.push(yield* u.sys(NR.__NR_kill, pid, 15));
      const [wpid, status] = yield* u.wait(pid);
      res.push(wpid === pid ? 1 : 0, status & 0x7f);
      res.push(yield* u.sys(NR.__NR_kill, pid, 0));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 1, 15, -3]);
    expect(oops_count()).toBe(0);
  });

  it('init is unkillable from user space: kill(1, SIGINT/SIGTERM/SIGKILL) return 0 and init lives on; kill(0, SIGTERM) ends only the sender', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      const pid = yield* u.fork(function* (c) {
        res.push(yield* c.sys(NR.__NR_kill, 1, 2));
        res.push(yield* c.sys(NR.__NR_kill, 1, 15));
        res.push(yield* c.sys(NR.__NR_kill, 1, 9));
        res.push(yield* c.sys(NR.__NR_kill, 0, 15)); // init's process group: the caller dies on its way back, init does not
        return 7;
      });
      const [, status] = yield* u.wait(pid);
      res.push(status & 0x7f);
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 1e6), 0);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 0, 0, 15]);
    expect(oops_count()).toBe(0);
  });

  it('a user access to an unmapped address kills the task with SIGSEGV (status 11) and logs it', () => {
    let status = -1;
    const { handle } = bootUserInit(function* (u) {
      const pid = yield* u.fork(function* (c) {
        c.cpu.st32(0x2000, 1);
        return 0;
      });
      [, status] = yield* u.wait(pid);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(status & 0x7f).toBe(11);
    expect(console_output()).toMatch(/unhandled level fault \(11\) at 0x2000/);
    expect(oops_count()).toBe(0);
  });

  it('ppoll wakes when a pipe becomes readable and times out on an idle pipe', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      const fds = u.alloc(8);
      yield* u.sys(NR.__NR_pipe2, fds, 0);
      const rfd = u.cpu.ld32(fds);
      const wfd = u.cpu.ld32(fds + 4);
      const pfd = u.alloc(8);
      u.cpu.st32(pfd, rfd);
      u.cpu.st16(pfd + 4, 1 /* POLLIN */);
      res.push(yield* u.sys(NR.__NR_ppoll, pfd, 1, timespec(u, 2e6), 0, 8));
      yield* u.fork(function* (c) {
        yield* c.sys(NR.__NR_nanosleep, timespec(c, 3e6), 0);
        yield* c.write(wfd, 'x');
        return 0;
      });
      const r = yield* u.sys(NR.__NR_ppoll, pfd, 1, 0, 0, 8);
      res.push(r, u.cpu.ld16(pfd + 6) & 1);
      yield* u.wait();
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 1, 1]);
    expect(oops_count()).toBe(0);
  });

  it('epoll_pwait reports a readable pipe with the registered data', () => {
    const res: (number | bigint)[] = [];
    const { handle } = bootUserInit(function* (u) {
      const fds = u.alloc(8);
      yield* u.sys(NR.__NR_pipe2, fds, 0);
      const rfd = u.cpu.ld32(fds);
      const wfd = u.cpu.ld32(fds + 4);
      const ep = yield* u.sys(NR.__NR_epoll_create1, 0);
      const ev = u.alloc(16);
      u.cpu.st32(ev, 1);
      u.cpu.st64(ev + 8, 0xabcdn);
      res.push(yield* u.sys(NR.__NR_epoll_ctl, ep, 1, rfd, ev));
      const out = u.alloc(32);
      res.push(yield* u.sys(NR.__NR_epoll_pwait, ep, out, 2, 1, 0, 8));
      yield* u.write(wfd, 'y');
      res.push(yield* u.sys(NR.__NR_epoll_pwait, ep, out, 2, -1, 0, 8));
      res.push(u.cpu.ld32(out), u.cpu.ld64n(out + 8));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 0, 1, 1, 0xabcdn]);
    expect(oops_count()).toBe(0);
  });

  it('RLIMIT_NOFILE caps open fds at the soft limit (-EMFILE); raising above the hard limit needs privilege', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      const lim = u.alloc(16);
      u.cpu.st64(lim, 5);
      u.cpu.st64(lim + 8, 8);
      res.push(yield* u.sys(NR.__NR_setrlimit, 7, lim));
      let last = 0;
      for (let i = 0; i < 2; i++) last = yield* u.sys(NR.__NR_dup, 0); // fds 3 and 4 (0-2 are the console)
      res.push(last);
      res.push(yield* u.sys(NR.__NR_dup, 0));
      res.push(yield* u.sys(NR.__NR_setuid, 1000));
      u.cpu.st64(lim, 5);
      u.cpu.st64(lim + 8, 16);
      res.push(yield* u.sys(NR.__NR_setrlimit, 7, lim));
      const old = u.alloc(16);
      res.push(yield* u.sys(NR.__NR_prlimit64, 0, 7, 0, old));
      res.push(u.cpu.ld64(old), u.cpu.ld64(old + 8));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 4, -24, 0, -1, 0, 5, 8]);
    expect(oops_count()).toBe(0);
  });

  it('unknown system calls return -ENOSYS', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      res.push(yield* u.sys(1000));
      res.push(yield* u.sys(-1));
      res.push(yield* u.sys(300));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([-38, -38, -38]);
  });
});

describe('console tty', () => {
  it('characters typed on the UART reach a read of /dev/console one cooked line at a time, echoed back', () => {
    const lines: string[] = [];
    const { handle } = bootUserInit(function* (u) {
      const buf = u.alloc(256);
      for (let i = 0; i < 2; i++) {
        const n = yield* u.sys(NR.__NR_read, 0, buf, 256);
        lines.push(u.text(buf, n));
      }
      return 0;
    });
    handle.run({ forNs: 300e6 });
    handle.input('echo hi\rls -l\r');
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(lines).toEqual(['echo hi\n', 'ls -l\n']);
    expect(handle.console).toContain('echo hi');
    expect(oops_count()).toBe(0);
  });

  it('a read into a buffer that runs into an unmapped page returns the bytes that fit before it', () => {
    const res: number[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          // Two anonymous pages, the second unmapped again: a hole right after the first.
          const p = yield* u.sys(NR.__NR_mmap, 0, 8192, 3, 0x22, -1, 0);
          res.push(yield* u.sys(NR.__NR_munmap, p + 4096, 4096));
          const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/etc/data'), 0, 0);
          res.push(yield* u.sys(NR.__NR_read, fd, p + 4096 - 16, 64));
          res.push(yield* u.sys(NR.__NR_read, fd, p + 4096, 64));
          res.push(yield* u.sys(NR.__NR_read, fd, 2 ** 48 - 16, 64));
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755], '/etc/data': 'x'.repeat(100) },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 16, -14, -14]);
    expect(oops_count()).toBe(0);
  });
});

describe('reboot(2)', () => {
  it('LINUX_REBOOT_CMD_POWER_OFF powers off through PSCI with the code in arg; bad magic is -EINVAL, non-root -EPERM', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      res.push(yield* u.sys(NR.__NR_reboot, 0x1234, 672274793, 0x4321fedc, 0));
      const pid = yield* u.fork(function* (c) {
        yield* c.sys(NR.__NR_setuid, 1000);
        return -(yield* c.sys(NR.__NR_reboot, 0xfee1dead, 672274793, 0x4321fedc, 9));
      });
      const [, st] = yield* u.wait(pid);
      res.push(st >> 8);
      yield* u.sys(NR.__NR_reboot, 0xfee1dead, 672274793, 0x4321fedc, 5);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(5);
    expect(res).toEqual([-22, 1]);
    expect(handle.console).toContain('reboot: Power down');
  });
});
