// The C library of one process: its heap, stdio streams, environment and the system
// call wrappers a C program would use. Everything handed to the kernel (paths,
// buffers, structures, argv arrays) is first written into the process's own memory at
// the C layout; results are read back from there. Wrappers return -errno on failure,
// as the raw syscall ABI does.
//
// One Libc exists per process image: crt0 creates it, fork() gives the child a copy
// (the kernel copies the memory; this copies the library's own bookkeeping).

import { thisCpu, UserThreadStart } from '../../arch/index.js';
import { sys, isErr } from './syscall.js';
import { RESTORER_PC, handler_address, type SignalHandler } from './signal.js';
import { Heap } from './malloc.js';
import { BUFSIZ, BufMode, FILE, concat } from './stdio.js';
import { sprintf, type PrintfArg } from './printf.js';
import { cstr, putCstr, utf8 } from './string.js';
import { strerror, EINTR, ENOMEM, ENAMETOOLONG, E2BIG, EINVAL } from './errno.js';
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  DIRENT64,
  DIRENT64_NAME_OFFSET,
  EPOLL_EVENT,
  LINUX_REBOOT_MAGIC1,
  LINUX_REBOOT_MAGIC2,
  O_CREAT,
  O_TRUNC,
  O_WRONLY,
  POLLFD,
  RLIMIT,
  SA_RESTORER,
  SIGCHLD,
  SIGINFO,
  STAT,
  SYSINFO,
  TCGETS,
  TIOCGPGRP,
  TIOCSPGRP,
  TIMESPEC,
  UTSNAME,
} from './uapi.js';

export type Stat = ReturnType<typeof STAT.decode>;
export type Utsname = Record<'sysname' | 'nodename' | 'release' | 'version' | 'machine' | 'domainname', string>;
export type SysInfo = ReturnType<typeof SYSINFO.decode>;

export interface Dirent {
  readonly ino: number;
  readonly off: number;
  readonly type: number;
  readonly name: string;
}

export interface PollRequest {
  readonly fd: number;
  readonly events: number;
}

export interface EpollEvent {
  readonly events: number;
  readonly data: number;
}

/** A forked child's code: it runs with its own copy of the library. */
export type ChildMain = (c: Libc) => Generator<unknown, number, unknown>;

const PATH_MAX = 4096;
const IO_SIZE = 64 * 1024;
const STRUCT_SIZE = 1024;
/** Layout of the scratch block every process allocates at start. */
const SCRATCH = {
  stdin: 0,
  stdout: BUFSIZ,
  stderr: 2 * BUFSIZ,
  path0: 3 * BUFSIZ,
  path1: 3 * BUFSIZ + PATH_MAX,
  struct: 3 * BUFSIZ + 2 * PATH_MAX,
  io: 3 * BUFSIZ + 2 * PATH_MAX + STRUCT_SIZE,
  size: 3 * BUFSIZ + 2 * PATH_MAX + STRUCT_SIZE + IO_SIZE,
} as const;
const MAX_POLL_FDS = STRUCT_SIZE / 8 - 4;

export class Libc {
  heap = new Heap();
  environ: string[];
  stdin!: FILE;
  stdout!: FILE;
  stderr!: FILE;
  /** Base of the scratch block (user memory). */
  private scratch = 0;
  /** Program name for messages (argv[0]'s last component, set by the program). */
  progname = '';
  /** The entry given to the kernel for each handler (see signalEntry); fork copies share it. */
  private sigEntries = new Map<SignalHandler, SignalHandler>();

  constructor(
    envp: readonly string[],
    readonly auxv: ReadonlyMap<number, number> = new Map(),
  ) {
    this.environ = [...envp];
  }

  /** Allocates the stdio buffers and scratch space; stdout is line-buffered on a terminal. */
  *init(initialSp = 0): Generator<unknown, void, unknown> {
    let base = yield* this.heap.malloc(SCRATCH.size);
    // No heap (brk and mmap refused): use the stack, well below the initial sp (the
    // stack VMA grows down on demand, as Linux's does up to RLIMIT_STACK).
    if (base === 0 && initialSp > 0) base = Math.floor((initialSp - 64 * 1024 - SCRATCH.size) / 4096) * 4096;
    this.scratch = base;
    this.stdin = new FILE(0, base + SCRATCH.stdin, BufMode.Full);
    this.stdout = new FILE(1, base + SCRATCH.stdout, BufMode.Full);
    this.stderr = new FILE(2, base + SCRATCH.stderr, BufMode.None);
    if (yield* this.isatty(1)) this.stdout.mode = BufMode.Line;
  }

  private forkCopy(): Libc {
    const c = new Libc(this.environ, this.auxv);
    c.heap = this.heap.clone();
    c.scratch = this.scratch;
    c.stdin = this.stdin.clone();
    c.stdout = this.stdout.clone();
    c.stderr = this.stderr.clone();
    c.progname = this.progname;
    c.sigEntries = this.sigEntries;
    return c;
  }

  private get sbuf(): number {
    return this.scratch + SCRATCH.struct;
  }

  private get iobuf(): number {
    return this.scratch + SCRATCH.io;
  }

  /** Writes `path` into path slot 0 or 1; false when it does not fit PATH_MAX. */
  private putPath(path: string, slot: 0 | 1 = 0): number {
    const b = utf8(path);
    if (b.length >= PATH_MAX) return -ENAMETOOLONG;
    const va = this.scratch + (slot === 0 ? SCRATCH.path0 : SCRATCH.path1);
    putCstr(va, path);
    return va;
  }

  // ---- memory ----

  malloc(size: number): Generator<unknown, number, unknown> {
    return this.heap.malloc(size);
  }

  free(va: number): Generator<unknown, void, unknown> {
    return this.heap.freeBlock(va);
  }

  mmap(addr: number, len: number, prot: number, flags: number, fd = -1, off = 0): Generator<unknown, number, unknown> {
    return sys('mmap', addr, len, prot, flags, fd, off);
  }
  munmap(addr: number, len: number): Generator<unknown, number, unknown> {
    return sys('munmap', addr, len);
  }
  mprotect(addr: number, len: number, prot: number): Generator<unknown, number, unknown> {
    return sys('mprotect', addr, len, prot);
  }
  madvise(addr: number, len: number, advice: number): Generator<unknown, number, unknown> {
    return sys('madvise', addr, len, advice);
  }
  mlock(addr: number, len: number): Generator<unknown, number, unknown> {
    return sys('mlock', addr, len);
  }
  munlock(addr: number, len: number): Generator<unknown, number, unknown> {
    return sys('munlock', addr, len);
  }
  mlockall(flags: number): Generator<unknown, number, unknown> {
    return sys('mlockall', flags);
  }
  munlockall(): Generator<unknown, number, unknown> {
    return sys('munlockall');
  }
  /** The raw brk(2): returns the new break (the old one when refused). */
  brk(addr: number): Generator<unknown, number, unknown> {
    return sys('brk', addr);
  }

  // ---- files ----

  *openat(dirfd: number, path: string, flags: number, mode = 0): Generator<unknown, number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    return yield* sys('openat', dirfd, p, flags, mode);
  }
  open(path: string, flags: number, mode = 0): Generator<unknown, number, unknown> {
    return this.openat(AT_FDCWD, path, flags, mode);
  }
  close(fd: number): Generator<unknown, number, unknown> {
    return sys('close', fd);
  }

  /** read(2) of up to `n` bytes (at most the I/O buffer): the bytes read, or -errno. */
  *read(fd: number, n: number): Generator<unknown, Uint8Array | number, unknown> {
    const len = Math.max(0, Math.min(n, IO_SIZE));
    const r = yield* sys('read', fd, this.iobuf, len);
    if (isErr(r)) return r;
    const out = new Uint8Array(r);
    if (r > 0) thisCpu().readVirt(this.iobuf, out, 0, r);
    return out;
  }

  /** Reads `fd` to end of file. */
  *readAll(fd: number): Generator<unknown, Uint8Array | number, unknown> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const r = yield* this.read(fd, IO_SIZE);
      if (typeof r === 'number') {
        if (r === -EINTR) continue;
        return r;
      }
      if (r.length === 0) break;
      parts.push(r);
    }
    return concat(parts);
  }

  /** write(2) of all of `data` (looping on short writes): bytes written or -errno. */
  *write(fd: number, data: string | Uint8Array): Generator<unknown, number, unknown> {
    const bytes = typeof data === 'string' ? utf8(data) : data;
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(IO_SIZE, bytes.length - off);
      thisCpu().writeVirt(this.iobuf, bytes, off, n);
      let done = 0;
      while (done < n) {
        const r = yield* sys('write', fd, this.iobuf + done, n - done);
        if (r === -EINTR) continue;
        if (isErr(r)) return off + done > 0 ? off + done : r;
        if (r === 0) return off + done;
        done += r;
      }
      off += n;
    }
    return off;
  }

  /** pread(2) into user memory at `va` (no copy through the I/O buffer): bytes read or -errno. */
  pread(fd: number, va: number, n: number, off: number): Generator<unknown, number, unknown> {
    return sys('pread64', fd, va, n, off);
  }

  /** pwrite(2) from user memory at `va`. */
  pwrite(fd: number, va: number, n: number, off: number): Generator<unknown, number, unknown> {
    return sys('pwrite64', fd, va, n, off);
  }

  /** eventfd(3): eventfd2(initval, flags) with EFD_SEMAPHORE 1, EFD_NONBLOCK O_NONBLOCK, EFD_CLOEXEC O_CLOEXEC. */
  eventfd(initval: number, flags = 0): Generator<unknown, number, unknown> {
    return sys('eventfd2', initval, flags);
  }

  /** readlink(2) of `path`: the target, or -errno. */
  *readlink(path: string): Generator<unknown, string | number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    const r = yield* sys('readlinkat', -100, p, this.iobuf, PATH_MAX);
    if (isErr(r)) return r;
    const out = new Uint8Array(r);
    thisCpu().readVirt(this.iobuf, out, 0, r);
    return new TextDecoder().decode(out);
  }

  lseek(fd: number, off: number, whence: number): Generator<unknown, number, unknown> {
    return sys('lseek', fd, off, whence);
  }

  *fstat(fd: number): Generator<unknown, Stat | number, unknown> {
    const r = yield* sys('fstat', fd, this.sbuf);
    return isErr(r) ? r : STAT.read(this.sbuf);
  }

  /** stat(2)/lstat(2) through newfstatat. */
  *stat(path: string, flags = 0): Generator<unknown, Stat | number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    const r = yield* sys('newfstatat', AT_FDCWD, p, this.sbuf, flags);
    return isErr(r) ? r : STAT.read(this.sbuf);
  }

  /** One getdents64(2) call: the entries it returned ([] at end of directory) or -errno. */
  *getdents64(fd: number): Generator<unknown, Dirent[] | number, unknown> {
    const r = yield* sys('getdents64', fd, this.iobuf, IO_SIZE);
    if (isErr(r)) return r;
    const buf = new Uint8Array(r);
    thisCpu().readVirt(this.iobuf, buf, 0, r);
    const out: Dirent[] = [];
    let o = 0;
    while (o + DIRENT64_NAME_OFFSET <= r) {
      const d = DIRENT64.decode(buf, o);
      const reclen = d['d_reclen'] as number;
      if (reclen < DIRENT64_NAME_OFFSET || o + reclen > r) break;
      const nameBytes = buf.subarray(o + DIRENT64_NAME_OFFSET, o + reclen);
      const nul = nameBytes.indexOf(0);
      out.push({
        ino: d['d_ino'] as number,
        off: d['d_off'] as number,
        type: d['d_type'] as number,
        name: new TextDecoder().decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
      });
      o += reclen;
    }
    return out;
  }

  /** All entries of directory `path` (opendir/readdir/closedir). */
  *readdir(path: string): Generator<unknown, Dirent[] | number, unknown> {
    const fd = yield* this.open(path, 0o40000 /* O_DIRECTORY */);
    if (fd < 0) return fd;
    const all: Dirent[] = [];
    for (;;) {
      const r = yield* this.getdents64(fd);
      if (typeof r === 'number') {
        yield* this.close(fd);
        return r;
      }
      if (r.length === 0) break;
      all.push(...r);
    }
    yield* this.close(fd);
    return all;
  }

  *mkdir(path: string, mode = 0o755): Generator<unknown, number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    return yield* sys('mkdirat', AT_FDCWD, p, mode);
  }
  *unlink(path: string): Generator<unknown, number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    return yield* sys('unlinkat', AT_FDCWD, p, 0);
  }
  *rmdir(path: string): Generator<unknown, number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    return yield* sys('unlinkat', AT_FDCWD, p, AT_REMOVEDIR);
  }
  *rename(from: string, to: string): Generator<unknown, number, unknown> {
    const a = this.putPath(from, 0);
    const b = this.putPath(to, 1);
    if (a < 0) return a;
    if (b < 0) return b;
    return yield* sys('renameat', AT_FDCWD, a, AT_FDCWD, b);
  }
  *chdir(path: string): Generator<unknown, number, unknown> {
    const p = this.putPath(path);
    if (p < 0) return p;
    return yield* sys('chdir', p);
  }
  *getcwd(): Generator<unknown, string | number, unknown> {
    const va = this.scratch + SCRATCH.path1;
    const r = yield* sys('getcwd', va, PATH_MAX);
    return isErr(r) ? r : cstr(va, PATH_MAX);
  }
  *mount(source: string, target: string, fstype: string, flags = 0): Generator<unknown, number, unknown> {
    const s = this.putPath(source, 0);
    const t = this.putPath(target, 1);
    if (s < 0) return s;
    if (t < 0) return t;
    const fsva = this.sbuf;
    putCstr(fsva, fstype.slice(0, 64));
    return yield* sys('mount', s, t, fsva, flags, 0);
  }

  dup(fd: number): Generator<unknown, number, unknown> {
    return sys('dup', fd);
  }
  dup3(oldfd: number, newfd: number, flags = 0): Generator<unknown, number, unknown> {
    return sys('dup3', oldfd, newfd, flags);
  }
  /** dup2 as arm64 libc builds it: dup3, except that dup2(fd, fd) checks fd and returns it. */
  *dup2(oldfd: number, newfd: number): Generator<unknown, number, unknown> {
    if (oldfd === newfd) {
      const r = yield* sys('fcntl', oldfd, 1 /* F_GETFD */);
      return isErr(r) ? r : newfd;
    }
    return yield* sys('dup3', oldfd, newfd, 0);
  }
  /** pipe2(2): [readEnd, writeEnd] or -errno. */
  *pipe2(flags = 0): Generator<unknown, [number, number] | number, unknown> {
    const r = yield* sys('pipe2', this.sbuf, flags);
    if (isErr(r)) return r;
    const cpu = thisCpu();
    return [cpu.ld32(this.sbuf) | 0, cpu.ld32(this.sbuf + 4) | 0];
  }
  fcntl(fd: number, cmd: number, arg = 0): Generator<unknown, number, unknown> {
    return sys('fcntl', fd, cmd, arg);
  }
  ioctl(fd: number, request: number, arg = 0): Generator<unknown, number, unknown> {
    return sys('ioctl', fd, request, arg);
  }
  /** isatty(3): TCGETS succeeds only on a terminal. */
  *isatty(fd: number): Generator<unknown, boolean, unknown> {
    const r = yield* sys('ioctl', fd, TCGETS, this.sbuf);
    return r === 0;
  }

  /** ppoll(2): `timeoutNs` < 0 waits forever. Returns revents per request, or -errno. */
  *ppoll(fds: readonly PollRequest[], timeoutNs: number): Generator<unknown, number[] | number, unknown> {
    if (fds.length > MAX_POLL_FDS) return -EINVAL;
    const arr = this.sbuf + 32;
    const bytes = new Uint8Array(fds.length * POLLFD.size);
    fds.forEach((f, i) => POLLFD.encode({ fd: f.fd, events: f.events }, bytes, i * POLLFD.size));
    thisCpu().writeVirt(arr, bytes);
    let ts = 0;
    if (timeoutNs >= 0) {
      ts = this.sbuf;
      TIMESPEC.write(ts, { tv_sec: Math.floor(timeoutNs / 1e9), tv_nsec: timeoutNs % 1e9 });
    }
    const r = yield* sys('ppoll', arr, fds.length, ts, 0, 8);
    if (isErr(r)) return r;
    thisCpu().readVirt(arr, bytes);
    return fds.map((_, i) => POLLFD.decode(bytes, i * POLLFD.size)['revents'] as number);
  }

  epoll_create1(flags = 0): Generator<unknown, number, unknown> {
    return sys('epoll_create1', flags);
  }
  *epoll_ctl(epfd: number, op: number, fd: number, events: number, data: number): Generator<unknown, number, unknown> {
    EPOLL_EVENT.write(this.sbuf, { events, data });
    return yield* sys('epoll_ctl', epfd, op, fd, this.sbuf);
  }
  /** epoll_wait as epoll_pwait with no signal mask; `timeoutMs` < 0 waits forever. */
  *epoll_wait(epfd: number, maxevents: number, timeoutMs: number): Generator<unknown, EpollEvent[] | number, unknown> {
    const n = Math.max(1, Math.min(maxevents, IO_SIZE / EPOLL_EVENT.size));
    const r = yield* sys('epoll_pwait', epfd, this.iobuf, n, timeoutMs, 0, 8);
    if (isErr(r)) return r;
    const bytes = new Uint8Array(r * EPOLL_EVENT.size);
    thisCpu().readVirt(this.iobuf, bytes);
    const out: EpollEvent[] = [];
    for (let i = 0; i < r; i++) {
      const e = EPOLL_EVENT.decode(bytes, i * EPOLL_EVENT.size);
      out.push({ events: e['events'] as number, data: e['data'] as number });
    }
    return out;
  }

  /** The whole content of file `path`, or -errno. */
  *readFile(path: string): Generator<unknown, Uint8Array | number, unknown> {
    const fd = yield* this.open(path, 0);
    if (fd < 0) return fd;
    const r = yield* this.readAll(fd);
    yield* this.close(fd);
    return r;
  }

  /** Creates or truncates `path` and writes `data`; bytes written or -errno. */
  *writeFile(path: string, data: string | Uint8Array, flags = O_WRONLY | O_CREAT | O_TRUNC, mode = 0o644): Generator<unknown, number, unknown> {
    const fd = yield* this.open(path, flags, mode);
    if (fd < 0) return fd;
    const r = yield* this.write(fd, data);
    const c = yield* this.close(fd);
    return r < 0 ? r : c < 0 ? c : r;
  }

  // ---- processes ----

  getpid(): Generator<unknown, number, unknown> {
    return sys('getpid');
  }
  getppid(): Generator<unknown, number, unknown> {
    return sys('getppid');
  }
  getuid(): Generator<unknown, number, unknown> {
    return sys('getuid');
  }
  geteuid(): Generator<unknown, number, unknown> {
    return sys('geteuid');
  }
  getgid(): Generator<unknown, number, unknown> {
    return sys('getgid');
  }
  gettid(): Generator<unknown, number, unknown> {
    return sys('gettid');
  }
  setuid(uid: number): Generator<unknown, number, unknown> {
    return sys('setuid', uid);
  }
  setsid(): Generator<unknown, number, unknown> {
    return sys('setsid');
  }
  setpgid(pid: number, pgid: number): Generator<unknown, number, unknown> {
    return sys('setpgid', pid, pgid);
  }
  getpgid(pid: number): Generator<unknown, number, unknown> {
    return sys('getpgid', pid);
  }
  getsid(pid: number): Generator<unknown, number, unknown> {
    return sys('getsid', pid);
  }
  /** tcgetpgrp(3): the foreground process group of the terminal `fd` (TIOCGPGRP), or -errno. */
  *tcgetpgrp(fd: number): Generator<unknown, number, unknown> {
    const r = yield* sys('ioctl', fd, TIOCGPGRP, this.sbuf);
    return r < 0 ? r : thisCpu().ld32(this.sbuf) | 0;
  }
  /** tcsetpgrp(3): makes `pgrp` the foreground process group of the terminal `fd` (TIOCSPGRP); 0 or -errno. */
  *tcsetpgrp(fd: number, pgrp: number): Generator<unknown, number, unknown> {
    thisCpu().st32(this.sbuf, pgrp);
    return yield* sys('ioctl', fd, TIOCSPGRP, this.sbuf);
  }
  kill(pid: number, sig: number): Generator<unknown, number, unknown> {
    return sys('kill', pid, sig);
  }

  /**
   * sigaction(2): `handler` is SIG_DFL, SIG_IGN or a handler; a handler gets a text
   * address of this library (signal.ts) and the kernel gets SA_RESTORER with
   * __restore_rt, as glibc passes them. `mask` is a sigset (sigbit(SIGx) | ...), blocked
   * while the handler runs. Returns 0 or -errno.
   */
  *sigaction(sig: number, handler: SignalHandler | number, flags = 0, mask = 0): Generator<unknown, number, unknown> {
    const cpu = thisCpu();
    const a = this.sbuf;
    const fn = typeof handler !== 'number';
    cpu.st64(a, fn ? handler_address(this.signalEntry(handler)) : handler);
    cpu.st64(a + 8, (fn ? flags | SA_RESTORER : flags) >>> 0);
    cpu.st64(a + 16, fn ? RESTORER_PC : 0);
    cpu.st64(a + 24, mask);
    return yield* sys('rt_sigaction', sig, a, 0, 8);
  }

  /** The current action of `sig` as the kernel holds it (struct sigaction fields), or -errno. */
  *sigactionOf(sig: number): Generator<unknown, { handler: number; flags: number; restorer: number; mask: number } | number, unknown> {
    const a = this.sbuf;
    const r = yield* sys('rt_sigaction', sig, 0, a, 8);
    if (r < 0) return r;
    const cpu = thisCpu();
    return { handler: cpu.ld64(a), flags: cpu.ld64(a + 8), restorer: cpu.ld64(a + 16), mask: cpu.ld64(a + 24) };
  }

  /** sigprocmask(2): `how` SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK with `set`, or only the query when `set` is undefined. Returns the old mask or -errno. */
  *sigprocmask(how: number, set?: number): Generator<unknown, number, unknown> {
    const cpu = thisCpu();
    const a = this.sbuf;
    if (set !== undefined) cpu.st64(a + 8, set);
    const r = yield* sys('rt_sigprocmask', how, set === undefined ? 0 : a + 8, a, 8);
    return r < 0 ? r : thisCpu().ld64(a);
  }

  /** sigsuspend(2): waits with `mask` blocked until a handler has run; -EINTR then (the old mask is back). */
  *sigsuspend(mask: number): Generator<unknown, number, unknown> {
    thisCpu().st64(this.sbuf + 16, mask);
    return yield* sys('rt_sigsuspend', this.sbuf + 16, 8);
  }

  /**
   * setitimer(ITIMER_REAL): SIGALRM after `valueNs`, then every `intervalNs` (0: once);
   * valueNs 0 disarms. Times go to the kernel in microseconds (struct timeval). 0 or -errno.
   */
  *setitimer(valueNs: number, intervalNs = 0): Generator<unknown, number, unknown> {
    const cpu = thisCpu();
    const a = this.sbuf;
    const us = (ns: number): [number, number] => [Math.floor(ns / 1e9), Math.floor((ns % 1e9) / 1000)];
    const [is, iu] = us(intervalNs);
    const [vs, vu] = us(valueNs);
    cpu.st64(a, is);
    cpu.st64(a + 8, iu);
    cpu.st64(a + 16, vs);
    cpu.st64(a + 24, vu);
    return yield* sys('setitimer', 0, a, 0);
  }

  /** getitimer(ITIMER_REAL): [interval ns, remaining ns], or -errno. */
  *getitimer(): Generator<unknown, [number, number] | number, unknown> {
    const a = this.sbuf;
    const r = yield* sys('getitimer', 0, a);
    if (r < 0) return r;
    const cpu = thisCpu();
    return [cpu.ld64(a) * 1e9 + cpu.ld64(a + 8) * 1000, cpu.ld64(a + 16) * 1e9 + cpu.ld64(a + 24) * 1000];
  }

  /** alarm(3): SIGALRM in `seconds` (0 cancels), as setitimer(ITIMER_REAL). */
  alarm(seconds: number): Generator<unknown, number, unknown> {
    return this.setitimer(seconds * 1e9);
  }

  /** sigpending(2): the blocked signals waiting, or -errno. */
  *sigpending(): Generator<unknown, number, unknown> {
    const r = yield* sys('rt_sigpending', this.sbuf, 8);
    return r < 0 ? r : thisCpu().ld64(this.sbuf);
  }

  /** sigaltstack(2) with a new stack (flags 0 or SS_DISABLE); returns 0 or -errno. */
  *sigaltstack(sp: number, size: number, flags = 0): Generator<unknown, number, unknown> {
    const cpu = thisCpu();
    const a = this.sbuf;
    cpu.st64(a, sp);
    cpu.st64(a + 8, flags);
    cpu.st64(a + 16, size);
    return yield* sys('sigaltstack', a, 0);
  }

  /** raise(3): the signal to the calling thread (tgkill). */
  *raise(sig: number): Generator<unknown, number, unknown> {
    const tgid = yield* sys('getpid');
    const tid = yield* sys('gettid');
    return yield* sys('tgkill', tgid, tid, sig);
  }

  /** The fields of the siginfo_t at `info` a handler receives. */
  siginfo(info: number): { signo: number; code: number; pid: number; uid: number; status: number } {
    const cpu = thisCpu();
    const s32 = (off: number): number => cpu.ld32(info + off) | 0;
    return { signo: s32(SIGINFO.signo), code: s32(SIGINFO.code), pid: s32(SIGINFO.pid), uid: cpu.ld32(info + SIGINFO.uid), status: s32(SIGINFO.status) };
  }

  /**
   * The entry the kernel calls for `handler`. This library's wrappers share a scratch
   * block (paths, structures, I/O); a handler that calls them would overwrite what the
   * interrupted wrapper has there, so the entry saves the block and puts it back before
   * returning (stdio streams stay shared, as C's are not async-signal-safe either).
   */
  private signalEntry(handler: SignalHandler): SignalHandler {
    let e = this.sigEntries.get(handler);
    if (e === undefined) {
      const base = this.scratch + SCRATCH.path0;
      const len = this.scratch === 0 ? 0 : SCRATCH.size - SCRATCH.path0;
      e = function* signalEntry(sig, info, uc) {
        const saved = new Uint8Array(len);
        if (len > 0) thisCpu().readVirt(base, saved);
        yield* handler(sig, info, uc);
        if (len > 0) thisCpu().writeVirt(base, saved);
      };
      this.sigEntries.set(handler, e);
    }
    return e;
  }

  sched_yield(): Generator<unknown, number, unknown> {
    return sys('sched_yield');
  }

  /**
   * fork(): clone(SIGCHLD). A generator cannot be duplicated, so the child's code is
   * `child`, handed to the kernel with a UserThreadStart just before clone; it runs
   * with a copy of this library (stdio is flushed first so output is not doubled).
   * Returns the child's PID in the parent, or -errno.
   */
  *fork(child: ChildMain): Generator<unknown, number, unknown> {
    yield* this.flushAll();
    const copy = this.forkCopy();
    yield new UserThreadStart(function* childStart() {
      const status = yield* child(copy);
      return yield* copy.exit(status);
    });
    return yield* sys('clone', SIGCHLD, 0, 0, 0, 0);
  }

  /**
   * execve(2): builds argv[] and envp[] (pointer arrays and strings) in user memory and
   * replaces the program. Returns only on failure, with -errno.
   */
  *execve(path: string, argv: readonly string[], envp: readonly string[] = this.environ): Generator<unknown, number, unknown> {
    const strs = [path, ...argv, ...envp].map(utf8);
    let strBytes = 0;
    for (const s of strs) strBytes += s.length + 1;
    const ptrBytes = (argv.length + 1 + envp.length + 1) * 8;
    if (strBytes + ptrBytes > 2 * 1024 * 1024) return -E2BIG;
    // The I/O scratch buffer holds the usual command line; only a huge one needs the heap.
    const fits = ptrBytes + strBytes <= IO_SIZE;
    const block = fits ? this.iobuf : yield* this.malloc(ptrBytes + strBytes);
    if (block === 0) return -ENOMEM;
    const img = new Uint8Array(ptrBytes + strBytes);
    const dv = new DataView(img.buffer);
    let so = ptrBytes;
    const addrs: number[] = [];
    for (const s of strs) {
      addrs.push(block + so);
      img.set(s, so);
      so += s.length + 1;
    }
    let po = 0;
    const putPtr = (v: number): void => {
      dv.setUint32(po, v % 0x1_0000_0000, true);
      dv.setUint32(po + 4, Math.floor(v / 0x1_0000_0000), true);
      po += 8;
    };
    for (let i = 0; i < argv.length; i++) putPtr(addrs[1 + i]!);
    putPtr(0);
    const envpAt = block + po;
    for (let i = 0; i < envp.length; i++) putPtr(addrs[1 + argv.length + i]!);
    putPtr(0);
    thisCpu().writeVirt(block, img);
    yield* this.flushAll();
    const r = yield* sys('execve', addrs[0]!, block, envpAt);
    if (!fits) yield* this.free(block);
    return r;
  }

  /**
   * wait4(2): { pid, status } of a child that changed state, or -errno (pid 0 with WNOHANG
   * and none ready; -EINTR when a handler without SA_RESTART interrupted the wait).
   */
  *wait4(pid: number, options = 0): Generator<unknown, { pid: number; status: number } | number, unknown> {
    const st = this.sbuf;
    thisCpu().st32(st, 0);
    const r = yield* sys('wait4', pid, st, options, 0);
    if (isErr(r)) return r;
    return { pid: r, status: r === 0 ? 0 : thisCpu().ld32(st) };
  }

  /** exit(3): flushes stdio and ends the process (exit_group). */
  *exit(status: number): Generator<unknown, number, unknown> {
    yield* this.flushAll();
    yield* sys('exit_group', status & 0xff);
    // exit_group does not return; a kernel without it ends the task by returning.
    return status & 0xff;
  }

  /** reboot(2) with the Linux magic numbers; `arg` carries the exit status on svasoc's POWER_OFF. */
  *reboot(cmd: number, arg = 0): Generator<unknown, number, unknown> {
    yield* this.flushAll();
    return yield* sys('reboot', LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, arg);
  }

  *uname(): Generator<unknown, Utsname | number, unknown> {
    const r = yield* sys('uname', this.sbuf);
    return isErr(r) ? r : (UTSNAME.read(this.sbuf) as Utsname);
  }

  *sysinfo(): Generator<unknown, SysInfo | number, unknown> {
    const r = yield* sys('sysinfo', this.sbuf);
    return isErr(r) ? r : SYSINFO.read(this.sbuf);
  }

  /** getrlimit(2): [cur, max] (RLIM_INFINITY as 2^64) or -errno. */
  *getrlimit(resource: number): Generator<unknown, [number, number] | number, unknown> {
    const r = yield* sys('getrlimit', resource, this.sbuf);
    if (isErr(r)) return r;
    const v = RLIMIT.read(this.sbuf);
    return [v['rlim_cur'] as number, v['rlim_max'] as number];
  }
  *setrlimit(resource: number, cur: number, max: number): Generator<unknown, number, unknown> {
    RLIMIT.write(this.sbuf, { rlim_cur: cur, rlim_max: max });
    return yield* sys('setrlimit', resource, this.sbuf);
  }

  /** sched_setaffinity(2) to the set of `cpus`. */
  *sched_setaffinity(pid: number, cpus: readonly number[]): Generator<unknown, number, unknown> {
    const mask = new Uint8Array(128);
    for (const c of cpus) if (c >= 0 && c < 1024) mask[c >> 3]! |= 1 << (c & 7);
    thisCpu().writeVirt(this.sbuf, mask);
    return yield* sys('sched_setaffinity', pid, mask.length, this.sbuf);
  }
  *sched_getaffinity(pid: number): Generator<unknown, number[] | number, unknown> {
    const r = yield* sys('sched_getaffinity', pid, 128, this.sbuf);
    if (isErr(r)) return r;
    const mask = new Uint8Array(r);
    thisCpu().readVirt(this.sbuf, mask);
    const cpus: number[] = [];
    for (let i = 0; i < r * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) cpus.push(i);
    return cpus;
  }

  // ---- time ----

  /** clock_gettime(2) in ns (a Number: exact for 104 days of uptime) or -errno. */
  *clock_gettime(clock: number): Generator<unknown, number, unknown> {
    const r = yield* sys('clock_gettime', clock, this.sbuf);
    if (isErr(r)) return r;
    const t = TIMESPEC.read(this.sbuf);
    return (t['tv_sec'] as number) * 1e9 + (t['tv_nsec'] as number);
  }

  /** nanosleep(2) for `ns`; restarts after EINTR with the remaining time. */
  *nanosleep(ns: number): Generator<unknown, number, unknown> {
    let left = Math.max(0, Math.floor(ns));
    for (;;) {
      TIMESPEC.write(this.sbuf, { tv_sec: Math.floor(left / 1e9), tv_nsec: left % 1e9 });
      const r = yield* sys('nanosleep', this.sbuf, this.sbuf + 16);
      if (r !== -EINTR) return r;
      const rem = TIMESPEC.read(this.sbuf + 16);
      left = (rem['tv_sec'] as number) * 1e9 + (rem['tv_nsec'] as number);
    }
  }

  // ---- environment ----

  getenv(name: string): string | undefined {
    const pre = name + '=';
    for (const e of this.environ) if (e.startsWith(pre)) return e.slice(pre.length);
    return undefined;
  }
  setenv(name: string, value: string): void {
    const pre = name + '=';
    const i = this.environ.findIndex((e) => e.startsWith(pre));
    if (i >= 0) this.environ[i] = pre + value;
    else this.environ.push(pre + value);
  }
  unsetenv(name: string): void {
    const pre = name + '=';
    this.environ = this.environ.filter((e) => !e.startsWith(pre));
  }

  // ---- stdio ----

  printf(fmt: string, ...args: readonly PrintfArg[]): Generator<unknown, number, unknown> {
    return this.stdout.write(sprintf(fmt, ...args));
  }
  eprintf(fmt: string, ...args: readonly PrintfArg[]): Generator<unknown, number, unknown> {
    return this.stderr.write(sprintf(fmt, ...args));
  }
  /** fputs to stdout (no newline added). */
  out(s: string | Uint8Array): Generator<unknown, number, unknown> {
    return this.stdout.write(s);
  }
  err(s: string): Generator<unknown, number, unknown> {
    return this.stderr.write(s);
  }
  /** "prog: what: message\n" on stderr for a -errno value. */
  perror(what: string, errno: number): Generator<unknown, number, unknown> {
    const pre = this.progname ? `${this.progname}: ` : '';
    return this.stderr.write(`${pre}${what}: ${strerror(errno)}\n`);
  }
  *flushAll(): Generator<unknown, void, unknown> {
    yield* this.stdout.flush();
    yield* this.stderr.flush();
  }
  /** fdopen(3): a stream over another descriptor, with its own BUFSIZ buffer from the heap. */
  *fdopen(fd: number, mode: BufMode = BufMode.Full): Generator<unknown, FILE | number, unknown> {
    const buf = yield* this.malloc(BUFSIZ);
    if (buf === 0) return -ENOMEM;
    return new FILE(fd, buf, mode);
  }
}
