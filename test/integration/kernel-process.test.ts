import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import type { ArchCpu } from '../../src/arch/index.js';
import { UserThreadStart } from '../../src/arch/program.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';

const EFAULT = -14;
const ECHILD = -10;

describe('processes', () => {
  it('execs /init as PID 1 with argv from the initial stack; its exit status is the power-off code', () => {
    const seen: string[][] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          seen.push(u.args());
          expect(yield* u.sys(NR.__NR_getpid)).toBe(1);
          yield* u.write(1, 'hello from init\n');
          return 42;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(42);
    expect(seen).toEqual([['/init']]);
    expect(handle.console).toContain('hello from init');
    expect(oops_count()).toBe(0);
  });

  it('fork + execve + wait4: the child runs the named program with its argv and the parent reaps its status', () => {
    let childArgs: string[] = [];
    const log: unknown[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const pid = yield* u.fork(function* (c) {
            const path = c.str('/bin/child');
            const r = yield* c.sys(NR.__NR_execve, path, c.argv(['child', 'a1', 'b2']), c.argv(['X=1']));
            return 100 + -r; // only reached when execve failed
          });
          log.push(['forked', pid > 1]);
          const [wpid, status] = yield* u.wait(-1);
          log.push(['wait', wpid === pid, status]);
          const [again] = yield* u.wait(-1);
          log.push(['again', again]);
          return 0;
        },
        child: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          childArgs = u.args();
          return 3;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(childArgs).toEqual(['child', 'a1', 'b2']);
    expect(log).toEqual([
      ['forked', true],
      ['wait', true, 3 << 8],
      ['again', ECHILD],
    ]);
    expect(oops_count()).toBe(0);
  });

  it('pipe2 carries bytes from a child to its parent and read returns 0 at EOF', () => {
    let got = '';
    let eof = -1;
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const fds = u.alloc(8);
          expect(yield* u.sys(NR.__NR_pipe2, fds, 0)).toBe(0);
          const rfd = cpu.ld32(fds);
          const wfd = cpu.ld32(fds + 4);
          yield* u.fork(function* (c) {
            yield* c.sys(NR.__NR_close, rfd);
            yield* c.write(wfd, 'ping through the pipe');
            return 0;
          });
          yield* u.sys(NR.__NR_close, wfd);
          const buf = u.alloc(64);
          const n = yield* u.sys(NR.__NR_read, rfd, buf, 64);
          got = u.text(buf, n);
          eof = yield* u.sys(NR.__NR_read, rfd, buf, 64);
          yield* u.wait();
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(got).toBe('ping through the pipe');
    expect(eof).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('a bad user pointer gives -EFAULT from write, read, openat, pipe2 and clock_gettime', () => {
    const res: number[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const bad = 0x1000; // below mmap_min_addr: never mapped
          res.push(yield* u.sys(NR.__NR_write, 1, bad, 10));
          res.push(yield* u.sys(NR.__NR_read, 0, 2 ** 50, 10));
          res.push(yield* u.sys(NR.__NR_openat, -100, bad, 0, 0));
          res.push(yield* u.sys(NR.__NR_pipe2, bad, 0));
          res.push(yield* u.sys(NR.__NR_clock_gettime, 1, bad));
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([EFAULT, EFAULT, EFAULT, EFAULT, EFAULT]);
    expect(oops_count()).toBe(0);
  });

  it('CLONE_THREAD: a thread shares the address space and the tgid; exit_group from the thread ends the whole process', () => {
    const res: number[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const pid = yield* u.fork(function* (p) {
            const cell = p.alloc(8);
            const flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000; // VM | FS | FILES | SIGHAND | THREAD
            yield new UserThreadStart(function* (c: ArchCpu) {
              c.st32(cell, 0xc0ffee);
              const me = yield* c.svc(NR.__NR_getpid);
              const tid = yield* c.svc(NR.__NR_gettid);
              c.st32(cell + 4, me === tid ? 0 : 1);
              // Wait for the main thread to see the value, then end the process.
              const ts = p.alloc(16);
              c.st64(ts + 8, 2_000_000);
              yield* c.svc(NR.__NR_nanosleep, ts, 0);
              yield* c.svc(NR.__NR_exit_group, 9);
              return 0;
            });
            const tid = yield* p.sys(NR.__NR_clone, flags, 0, 0, 0, 0);
            const ts = p.alloc(16);
            p.cpu.st64(ts + 8, 1_000_000);
            yield* p.sys(NR.__NR_nanosleep, ts, 0);
            res.push(tid > 0 ? 1 : 0, p.cpu.ld32(cell), p.cpu.ld32(cell + 4));
            p.cpu.st64(ts, 100); // 100 s: exit_group must cut this short
            yield* p.sys(NR.__NR_nanosleep, ts, 0);
            return 1;
          });
          const [wpid, status] = yield* u.wait(pid);
          res.push(wpid === pid ? 1 : 0, status >> 8);
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([1, 0xc0ffee, 1, 1, 9]);
    expect(oops_count()).toBe(0);
  });

  it('futex: a joiner sleeps in FUTEX_WAIT on the CLONE_CHILD_CLEARTID word until the thread exits and the kernel clears it', () => {
    const res: number[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const tidWord = u.alloc(8);
          const flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x200000 | 0x1000000; // ... THREAD | CHILD_CLEARTID | CHILD_SETTID
          yield new UserThreadStart(function* (c: ArchCpu) {
            const ts = u.alloc(16);
            c.st64(ts + 8, 3_000_000);
            yield* c.svc(NR.__NR_nanosleep, ts, 0);
            return 0; // thread exit: *tidWord = 0, futex wake
          });
          const tid = yield* u.sys(NR.__NR_clone, flags, 0, 0, 0, tidWord);
          res.push(cpu.ld32(tidWord) === tid ? 1 : 0);
          res.push(yield* u.sys(NR.__NR_futex, tidWord, 0, tid + 1, 0, 0, 0)); // value differs: -EAGAIN
          res.push(yield* u.sys(NR.__NR_futex, tidWord, 0, tid, 0, 0, 0)); // sleeps until the exit wake
          res.push(cpu.ld32(tidWord));
          const ts = u.alloc(16);
          cpu.st64(ts + 8, 1_000_000);
          cpu.st32(tidWord, 5);
          res.push(yield* u.sys(NR.__NR_futex, tidWord, 0x80, 5, ts, 0, 0)); // private wait, 1 ms timeout
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([1, -11, 0, 0, -110]);
    expect(oops_count()).toBe(0);
  });
});
