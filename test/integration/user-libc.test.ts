import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';
import { program } from '../../src/user/libc/crt0.js';
import { sys } from '../../src/user/libc/syscall.js';
import { errnoName } from '../../src/user/libc/errno.js';
import { thisCpu, type UserEntry } from '../../src/arch/index.js';
import * as U from '../../src/user/libc/uapi.js';

/** Results the test program reports, key -> value (an errno name for -errno). */
const results = new Map<string, unknown>();

const libctest = program(function* (c, argv) {
  const put = (k: string, v: unknown): void => void results.set(k, typeof v === 'number' && v < 0 && v > -4096 ? errnoName(v) : v);
  put('argv', argv);
  put('PATH', c.getenv('PATH'));
  put('open.missing', yield* c.open('/nope', 0));
  const st = yield* c.stat('/etc/motd');
  put('stat.motd', typeof st === 'number' ? st : [st['st_size'], st['st_mode'], st['st_nlink']]);
  const fst = yield* c.fstat(0);
  put('fstat.console', typeof fst === 'number' ? fst : (fst['st_mode'] as number) & U.S_IFMT);
  put('stat.efault', yield* sys('newfstatat', U.AT_FDCWD, 16, 0, 0));
  const t0 = yield* c.clock_gettime(U.CLOCK_MONOTONIC);
  yield* c.nanosleep(5e6);
  put('slept', (yield* c.clock_gettime(U.CLOCK_MONOTONIC)) - t0);
  const pp = yield* c.pipe2(0);
  if (typeof pp !== 'number') {
    const [r, w] = pp;
    put('ppoll.empty', yield* c.ppoll([{ fd: r, events: U.POLLIN }], 0));
    yield* c.write(w, 'xyz');
    put('ppoll.ready', yield* c.ppoll([{ fd: r, events: U.POLLIN }, { fd: w, events: U.POLLOUT }], 0));
    const ep = yield* c.epoll_create1(U.EPOLL_CLOEXEC);
    put('epoll_ctl', yield* c.epoll_ctl(ep, U.EPOLL_CTL_ADD, r, U.EPOLLIN, 0x1234567890));
    put('epoll_wait', yield* c.epoll_wait(ep, 4, 0));
    const got = yield* c.read(r, 10);
    put('pipe.read', typeof got === 'number' ? got : new TextDecoder().decode(got));
  }
  put('getrlimit', yield* c.getrlimit(U.RLIMIT_NOFILE));
  put('setrlimit', yield* c.setrlimit(U.RLIMIT_NOFILE, 64, 1024));
  put('getrlimit.after', yield* c.getrlimit(U.RLIMIT_NOFILE));
  const u = yield* c.uname();
  put('uname', typeof u === 'number' ? u : [u.sysname, u.machine]);
  const pid = yield* c.fork(function* (cl) {
    put('child', [yield* cl.getpid(), yield* cl.getppid()]);
    return 42;
  });
  const w = yield* c.wait4(pid, 0);
  put('wait4', typeof w === 'number' ? w : [w.pid === pid, U.WIFEXITED(w.status), U.WEXITSTATUS(w.status)]);
  put('wait4.none', yield* c.wait4(-1, U.WNOHANG));
  put('self', yield* c.getpid());
  put('write.badfd', yield* c.write(99, 'x'));
  const mf = yield* c.open('/etc/motd', 0);
  put('read.efault', yield* sys('read', mf, 8, 10));
  put('lseek', yield* c.lseek(mf, 4, U.SEEK_SET));
  const tail = yield* c.read(mf, 100);
  put('read.after.lseek', typeof tail === 'number' ? tail : new TextDecoder().decode(tail));
  const d = yield* c.readdir('/etc');
  put('readdir', typeof d === 'number' ? d : d.map((e) => [e.name, e.type]));
  put('mkdir', yield* c.mkdir('/tmp/d'));
  put('mkdir.again', yield* c.mkdir('/tmp/d'));
  put('rmdir', yield* c.rmdir('/tmp/d'));
  put('chdir', yield* c.chdir('/etc'));
  put('getcwd', yield* c.getcwd());
  put('isatty', [yield* c.isatty(0), yield* c.isatty(mf)]);
  put('dup3', yield* c.dup3(mf, 20, U.O_CLOEXEC));
  put('fcntl.getfd', yield* c.fcntl(20, U.F_GETFD));
  put('kill.esrch', yield* c.kill(9999, 0));
  put('exec.enoent', yield* c.execve('/bin/nope', ['nope']));
  const m = yield* c.mmap(0, 8192, U.PROT_READ | U.PROT_WRITE, U.MAP_PRIVATE | U.MAP_ANONYMOUS);
  put('mmap.aligned', m > 0 && m % 4096 === 0);
  thisCpu().st32(m + 4096, 0xdeadbeef);
  put('mmap.rw', thisCpu().ld32(m + 4096));
  put('madvise', yield* c.madvise(m, 8192, U.MADV_DONTNEED));
  put('after.dontneed', thisCpu().ld32(m + 4096));
  put('mlock', [yield* c.mlock(m, 8192), yield* c.munlock(m, 8192)]);
  put('munmap', yield* c.munmap(m, 8192));
  put('mmap.einval', yield* c.mmap(0, 0, U.PROT_READ, U.MAP_PRIVATE | U.MAP_ANONYMOUS));
  const small = yield* c.malloc(100);
  const big = yield* c.malloc(1 << 20);
  thisCpu().st8(small + 99, 7);
  thisCpu().st8(big + (1 << 20) - 1, 9);
  put('malloc', [small !== 0, big !== 0, thisCpu().ld8(small + 99), thisCpu().ld8(big + (1 << 20) - 1)]);
  yield* c.free(big);
  yield* c.free(small);
  return 0;
});

function run(): { code: number | undefined; console: string } {
  results.clear();
  const rom = new Map<string, UserEntry>(userPrograms);
  rom.set('libctest', libctest);
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom, initramfs: buildImage('images/default', { programs: [...rom.keys()], script: 'libctest a "b c"\n' }) });
  const code = h.runToPoweroff(30e9);
  return { code, console: h.console };
}

describe('libc wrappers against the kernel (Linux arm64 ABI)', () => {
  const r = run();
  const get = (k: string): unknown => results.get(k);

  it('crt0 hands main argv from the initial stack; the environment comes from init', () => {
    expect(r.code).toBe(0);
    expect(get('argv')).toEqual(['libctest', 'a', 'b c']);
    expect(get('PATH')).toBe('/bin:/sbin:/usr/bin:/usr/sbin');
  });
  it('errors are -errno: ENOENT, EFAULT for a bad pointer, EBADF, ESRCH, EEXIST, ECHILD', () => {
    expect(get('open.missing')).toBe('ENOENT');
    expect(get('stat.efault')).toBe('EFAULT');
    expect(get('read.efault')).toBe('EFAULT');
    expect(get('write.badfd')).toBe('EBADF');
    expect(get('kill.esrch')).toBe('ESRCH');
    expect(get('mkdir.again')).toBe('EEXIST');
    expect(get('wait4.none')).toBe('ECHILD');
    expect(get('exec.enoent')).toBe('ENOENT');
  });
  it('struct stat decoded at its arm64 layout: size, mode and nlink of a file; the console is a char device', () => {
    expect(get('stat.motd')).toEqual([21, 0o100644, 1]);
    expect(get('fstat.console')).toBe(U.S_IFCHR);
  });
  it('clock_gettime/nanosleep: a 5 ms sleep advances CLOCK_MONOTONIC by at least 5 ms', () => {
    expect(get('slept') as number).toBeGreaterThanOrEqual(5e6);
    expect(get('slept') as number).toBeLessThan(6e6);
  });
  it('pipe2 + ppoll + epoll: revents and the 64-bit epoll data survive the struct round trip', () => {
    expect(get('ppoll.empty')).toEqual([0]);
    expect(get('ppoll.ready')).toEqual([U.POLLIN, U.POLLOUT]);
    expect(get('epoll_ctl')).toBe(0);
    expect(get('epoll_wait')).toEqual([{ events: U.EPOLLIN, data: 0x1234567890 }]);
    expect(get('pipe.read')).toBe('xyz');
  });
  it('getrlimit/setrlimit through struct rlimit', () => {
    expect(get('setrlimit')).toBe(0);
    expect(get('getrlimit.after')).toEqual([64, 1024]);
  });
  it('uname fills struct utsname', () => {
    expect(get('uname')).toEqual(['Linux', 'aarch64']);
  });
  it('fork runs the child continuation with its own PID; wait4 returns its exit status', () => {
    const [cpid, ppid] = get('child') as [number, number];
    expect(ppid).toBe(get('self'));
    expect(cpid).not.toBe(ppid);
    expect(get('wait4')).toEqual([true, true, 42]);
  });
  it('lseek, getdents64 (dirent64 records), mkdir/rmdir, chdir/getcwd, isatty, dup3 with O_CLOEXEC', () => {
    expect(get('lseek')).toBe(4);
    expect(get('read.after.lseek')).toBe('SVA SoC emulator\n');
    const names = (get('readdir') as [string, number][]).map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['.', '..', 'motd', 'passwd', 'hostname']));
    expect((get('readdir') as [string, number][]).find(([n]) => n === 'motd')![1]).toBe(U.DT_REG);
    expect([get('mkdir'), get('rmdir'), get('chdir')]).toEqual([0, 0, 0]);
    expect(get('getcwd')).toBe('/etc');
    expect(get('isatty')).toEqual([true, false]);
    expect(get('dup3')).toBe(20);
    expect(get('fcntl.getfd')).toBe(U.FD_CLOEXEC);
  });
});

describe('memory calls through libc', () => {
  const get = (k: string): unknown => results.get(k);
  it('mmap gives page-aligned anonymous memory; MADV_DONTNEED zero-fills it again; mlock/munlock/munmap succeed; len 0 is EINVAL', () => {
    expect(get('mmap.aligned')).toBe(true);
    expect(get('mmap.rw')).toBe(0xdeadbeef);
    expect(get('madvise')).toBe(0);
    expect(get('after.dontneed')).toBe(0);
    expect(get('mlock')).toEqual([0, 0]);
    expect(get('munmap')).toBe(0);
    expect(get('mmap.einval')).toBe('EINVAL');
  });
  it('malloc serves small blocks from brk and large ones from mmap, both usable to their last byte', () => {
    expect(get('malloc')).toEqual([true, true, 7, 9]);
  });
});

describe('interactive shell on the console', () => {
  it('init with "interactive" on the kernel command line gives a "# " prompt that runs typed lines', () => {
    const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
    const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined), args: 'console=ttyAMA0 interactive' });
    h.run({ forNs: 300e6 });
    expect(h.console.replace(/\r/g, '')).toMatch(/Run \/sbin\/init as init process\n# $/);
    h.input('echo hi $((2+3))\n');
    h.run({ forNs: 100e6 });
    h.input('if true\n');
    h.run({ forNs: 100e6 });
    h.input('then echo multi; fi\n');
    h.run({ forNs: 100e6 });
    h.input('exit 3\n');
    const code = h.runToPoweroff(5e9);
    const con = h.console.replace(/\r/g, '');
    expect(con).toContain('# echo hi $((2+3))\nhi 5\n# if true\n> then echo multi; fi\nmulti\n# exit 3\n');
    expect(code).toBe(3);
  });
});
