import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import type { ArchCpu } from '../../src/arch/index.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { debugfs_create_file } from '../../src/kernel/fs/debugfs.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;

/** Reads a whole file through openat/read/close; returns [errno-or-0, text]. */
function* readFile(u: UserCtx, path: string): Generator<unknown, [number, string], unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_RDONLY, 0);
  if (fd < 0) return [fd, ''];
  const buf = u.alloc(16384);
  let text = '';
  for (;;) {
    const n = yield* u.sys(NR.__NR_read, fd, buf, 16384);
    if (n <= 0) break;
    text += u.text(buf, n);
  }
  yield* u.sys(NR.__NR_close, fd);
  return [0, text];
}

function* readlink(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const buf = u.alloc(256);
  const n = yield* u.sys(NR.__NR_readlinkat, AT_FDCWD, u.str(path), buf, 256);
  return n < 0 ? `error ${n}` : u.text(buf, n);
}

function bootWith(init: (u: UserCtx) => Generator<unknown, number, unknown>, files: Record<string, string | [string, number]> = {}) {
  return bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        return yield* init(new UserCtx(cpu, sp));
      },
      true: function* () {
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755], ...files },
  });
}

describe('files', () => {
  it('initramfs files are readable; O_CREAT files can be written, read back and listed with getdents64', () => {
    const out: Record<string, unknown> = {};
    const { handle } = bootWith(
      function* (u) {
        out.motd = (yield* readFile(u, '/etc/motd'))[1];
        const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tmp/new.txt'), O_WRONLY | O_CREAT, 0o644);
        yield* u.write(fd, 'written by init');
        yield* u.sys(NR.__NR_close, fd);
        out.back = (yield* readFile(u, '/tmp/new.txt'))[1];
        const dfd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tmp'), 0o40000, 0);
        const buf = u.alloc(4096);
        const n = yield* u.sys(NR.__NR_getdents64, dfd, buf, 4096);
        const names: string[] = [];
        for (let off = 0; off < n; ) {
          const reclen = u.cpu.ld16(buf + off + 16);
          let s = '';
          for (let p = buf + off + 19; u.cpu.ld8(p) !== 0; p++) s += String.fromCharCode(u.cpu.ld8(p));
          names.push(s);
          off += reclen;
        }
        out.names = names;
        return 0;
      },
      { '/etc/motd': 'welcome to svasoc\n', '/tmp/keep': 'x' },
    );
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(out.motd).toBe('welcome to svasoc\n');
    expect(out.back).toBe('written by init');
    expect(out.names).toEqual(['.', '..', 'keep', 'new.txt']);
    expect(oops_count()).toBe(0);
  });

  it('close-on-exec: an O_CLOEXEC fd is closed in the exec\'d image, a plain fd survives', () => {
    const res: number[] = [];
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const a = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/etc/motd'), O_RDONLY | O_CLOEXEC, 0);
          const b = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/etc/motd'), O_RDONLY, 0);
          const pid = yield* u.fork(function* (c) {
            yield* c.sys(NR.__NR_execve, c.str('/bin/check'), c.argv(['check', String(a), String(b)]), 0);
            return 99;
          });
          const [, status] = yield* u.wait(pid);
          res.push(status >> 8);
          return 0;
        },
        check: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          const [, a, b] = u.args();
          const st = u.alloc(128);
          const ra = yield* u.sys(NR.__NR_fstat, Number(a), st);
          const rb = yield* u.sys(NR.__NR_fstat, Number(b), st);
          return (ra === -9 ? 1 : 0) | (rb === 0 ? 2 : 0);
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755], '/etc/motd': 'm' },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([3]);
    expect(oops_count()).toBe(0);
  });

  it('procfs, sysfs and devtmpfs show the running system: pid status, PCI devices with vendor/device, /dev nodes', () => {
    const out: Record<string, string> = {};
    const { handle } = bootWith(function* (u) {
      out.status = (yield* readFile(u, '/proc/self/status'))[1];
      out.cmdline = (yield* readFile(u, '/proc/cmdline'))[1];
      out.interrupts = (yield* readFile(u, '/proc/interrupts'))[1];
      out.zipVendor = (yield* readFile(u, '/sys/bus/pci/devices/0000:00:01.0/vendor'))[1];
      out.zipDevice = (yield* readFile(u, '/sys/bus/pci/devices/0000:00:01.0/device'))[1];
      out.zipRev = (yield* readFile(u, '/sys/bus/pci/devices/0000:00:01.0/revision'))[1];
      out.tdVendor = (yield* readFile(u, '/sys/bus/pci/devices/0000:00:02.0/vendor'))[1];
      out.link = yield* readlink(u, '/sys/bus/pci/devices/0000:00:01.0');
      const st = u.alloc(128);
      const r = yield* u.sys(NR.__NR_newfstatat, AT_FDCWD, u.str('/dev/null'), st, 0);
      out.devnull = `${r} ${(u.cpu.ld32(st + 16) >>> 12).toString(8)} ${u.cpu.ld32(st + 32)}`;
      const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/dev/zero'), O_RDONLY, 0);
      const b = u.alloc(8);
      u.cpu.st64(b, 0x1122334455667788n);
      yield* u.sys(NR.__NR_read, fd, b, 8);
      out.zero = String(u.cpu.ld64(b));
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(out.status).toMatch(/^Name:\tinit$/m);
    expect(out.status).toMatch(/^Pid:\t1$/m);
    expect(out.status).toMatch(/^Uid:\t0\t0\t0\t0$/m);
    expect(out.cmdline).toContain('console=ttyAMA0');
    expect(out.interrupts).toContain('arch_timer');
    expect(out.zipVendor).toBe('0x19e5\n');
    expect(out.zipDevice).toBe('0xa250\n');
    expect(out.zipRev).toBe('0x21\n');
    expect(out.tdVendor).toBe('0x1b36\n');
    expect(out.link).toBe('../../../devices/pci0000:00/0000:00:01.0');
    expect(out.devnull).toBe(`0 ${(0o020000 >>> 12).toString(8)} ${(1 << 8) | 3}`);
    expect(out.zero).toBe('0');
    expect(oops_count()).toBe(0);
  });

  it('permissions: a non-root user gets -EACCES on a 0600 root file and -EPERM on setuid(0)', () => {
    const res: number[] = [];
    const { handle } = bootWith(
      function* (u) {
        res.push(yield* u.sys(NR.__NR_setuid, 1000));
        const [e] = yield* readFile(u, '/etc/secret');
        res.push(e);
        res.push(yield* u.sys(NR.__NR_setuid, 0));
        res.push(yield* u.sys(NR.__NR_getuid));
        return 0;
      },
      { '/etc/secret': ['s', 0o600] },
    );
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, -13, -1, 1000]);
    expect(oops_count()).toBe(0);
  });

  it('dmesg sources: /dev/kmsg gives one record per read, syslog(READ_ALL) the timestamped log; debugfs files appear under /sys/kernel/debug', () => {
    const out: Record<string, string | number> = {};
    const { handle } = bootKernel({
      programs: {
        init: function* (cpu: ArchCpu, sp: number) {
          const u = new UserCtx(cpu, sp);
          debugfs_create_file('svasoc/answer', () => '42\n');
          const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/dev/kmsg'), O_RDONLY, 0);
          const buf = u.alloc(1024);
          const n = yield* u.sys(NR.__NR_read, fd, buf, 1024);
          out.kmsg = u.text(buf, n);
          const big = u.alloc(65536);
          const m = yield* u.sys(116, 3, big, 65536);
          out.syslog = u.text(big, m);
          out.debug = (yield* readFile(u, '/sys/kernel/debug/svasoc/answer'))[1];
          return 0;
        },
      },
      files: { '/init': ['#!svasoc:init\n', 0o755] },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(out.kmsg).toMatch(/^6,0,0,-;Booting Linux on physical CPU 0x0000000000/);
    expect(out.syslog).toMatch(/^\[\s+0\.000000\] Booting Linux/);
    expect(out.syslog).toContain('Run /init as init process');
    expect(out.debug).toBe('42\n');
    expect(oops_count()).toBe(0);
  });

  it('writev gathers and readv scatters (a tmpfs file and a pipe); a bad iovec pointer is -EFAULT', () => {
    const out: Record<string, unknown> = {};
    const { handle } = bootWith(function* (u) {
      const iov = (parts: [number, number][]) => {
        const a = u.alloc(16 * parts.length);
        parts.forEach(([base, len], i) => {
          u.cpu.st64(a + 16 * i, base);
          u.cpu.st64(a + 16 * i + 8, len);
        });
        return a;
      };
      const hello = u.str('hello, ');
      const world = u.str('vectored world');
      for (const kind of ['file', 'pipe'] as const) {
        let rfd: number;
        let wfd: number;
        if (kind === 'file') {
          wfd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/v.txt'), O_WRONLY | O_CREAT, 0o644);
          rfd = -1;
        } else {
          const fds = u.alloc(8);
          yield* u.sys(NR.__NR_pipe2, fds, 0);
          rfd = u.cpu.ld32(fds);
          wfd = u.cpu.ld32(fds + 4);
        }
        out[`${kind}.written`] = yield* u.sys(NR.__NR_writev, wfd, iov([[hello, 7], [world, 14]]), 2);
        if (kind === 'file') {
          yield* u.sys(NR.__NR_close, wfd);
          rfd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/v.txt'), O_RDONLY, 0);
        }
        const a = u.alloc(5);
        const b = u.alloc(64);
        out[`${kind}.read`] = yield* u.sys(NR.__NR_readv, rfd, iov([[a, 5], [b, 64]]), 2);
        out[`${kind}.parts`] = [u.text(a, 5), u.text(b, 16)];
        out[`${kind}.efault`] = yield* u.sys(NR.__NR_readv, rfd, 0x10, 1);
      }
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    for (const kind of ['file', 'pipe']) {
      expect(out[`${kind}.written`]).toBe(21);
      expect(out[`${kind}.read`]).toBe(21);
      expect(out[`${kind}.parts`]).toEqual(['hello', ', vectored world']);
      expect(out[`${kind}.efault`]).toBe(-14);
    }
    expect(oops_count()).toBe(0);
  });
});
