import { describe, it, expect, afterEach } from 'vitest';
import { setCurrentCpu } from '../../src/arch/current.js';
import type { ArchCpu } from '../../src/arch/index.js';
import { STAT, TIMESPEC, POLLFD, EPOLL_EVENT, RLIMIT, UTSNAME, DIRENT64, SYSINFO, WINSIZE, RLIM_INFINITY, O_DIRECTORY, O_CLOEXEC, O_NOFOLLOW, AT_FDCWD, MAP_ANONYMOUS, MAP_LOCKED, MADV_WIPEONFORK, EPOLLET } from '../../src/user/libc/uapi.js';
import { NR } from '../../src/user/libc/unistd.js';
import { strerror, errnoName, errnoByName } from '../../src/user/libc/errno.js';
import { sprintf } from '../../src/user/libc/printf.js';
import { readInitialStack } from '../../src/user/libc/crt0.js';
import { cstr, putCstr } from '../../src/user/libc/string.js';
import { Heap, MMAP_THRESHOLD } from '../../src/user/libc/malloc.js';
import { isErr } from '../../src/user/libc/syscall.js';
import { parseMeminfo, freeTable } from '../../src/user/bin/free.js';
import { hexdumpText } from '../../src/user/bin/hexdump.js';
import { compareBytes } from '../../src/user/bin/cmp.js';
import { modeString } from '../../src/user/bin/ls.js';
import { parseDuration } from '../../src/user/bin/sleep.js';
import { gzipBytes, gunzipBytes } from '../../src/user/bin/gzip.js';
import { signalNumber } from '../../src/user/bin/kill.js';
import { formatKmsgRecord } from '../../src/user/bin/dmesg.js';

/** A flat little-endian memory at VA 0 with a scripted SVC, enough for libc code that runs without a kernel. */
class FlatCpu {
  readonly mem = new Uint8Array(1 << 20);
  readonly dv = new DataView(this.mem.buffer);
  calls: [number, number[]][] = [];
  constructor(private readonly onSvc: (nr: number, args: number[]) => number = () => -38) {}
  ld8(va: number): number {
    return this.mem[va]!;
  }
  ld32(va: number): number {
    return this.dv.getUint32(va, true);
  }
  ld64(va: number): number {
    return this.dv.getUint32(va + 4, true) * 2 ** 32 + this.dv.getUint32(va, true);
  }
  st64(va: number, v: number): void {
    this.dv.setUint32(va, v % 2 ** 32, true);
    this.dv.setUint32(va + 4, Math.floor(v / 2 ** 32), true);
  }
  readVirt(va: number, dst: Uint8Array, off = 0, len = dst.length - off): void {
    dst.set(this.mem.subarray(va, va + len), off);
  }
  writeVirt(va: number, src: Uint8Array, off = 0, len = src.length - off): void {
    this.mem.set(src.subarray(off, off + len), va);
  }
  /** The EL0 registers: SVC advances the PC past itself (the contract libc's syscall() checks). */
  readonly user = { x: new Float64Array(31), sp: 0, pc: 0 };
  *svc(nr: number, ...args: number[]): Generator<unknown, number, unknown> {
    this.user.pc += 4;
    this.calls.push([nr, args]);
    return this.onSvc(nr, args);
  }
}

function withCpu<T>(cpu: FlatCpu, fn: () => T): T {
  setCurrentCpu(cpu as unknown as ArchCpu);
  try {
    return fn();
  } finally {
    setCurrentCpu(undefined);
  }
}

function runSync<T>(g: Generator<unknown, T, unknown>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

afterEach(() => setCurrentCpu(undefined));

describe('C structure layouts (arm64 LP64, asm-generic)', () => {
  it('struct stat is 128 bytes: st_mode@16 st_nlink@20 st_uid@24 st_rdev@32 st_size@48 st_blksize@56 st_blocks@64 st_atime@72 st_mtime@88 st_ctime@104', () => {
    expect(STAT.size).toBe(128);
    expect([STAT.offsetof('st_dev'), STAT.offsetof('st_ino'), STAT.offsetof('st_mode'), STAT.offsetof('st_nlink'), STAT.offsetof('st_uid'), STAT.offsetof('st_gid')]).toEqual([0, 8, 16, 20, 24, 28]);
    expect([STAT.offsetof('st_rdev'), STAT.offsetof('st_size'), STAT.offsetof('st_blksize'), STAT.offsetof('st_blocks')]).toEqual([32, 48, 56, 64]);
    expect([STAT.offsetof('st_atime'), STAT.offsetof('st_atime_nsec'), STAT.offsetof('st_mtime'), STAT.offsetof('st_ctime'), STAT.offsetof('st_ctime_nsec')]).toEqual([72, 80, 88, 104, 112]);
  });
  it('timespec 16, pollfd 8 (events@4 revents@6), rlimit 16, winsize 8', () => {
    expect([TIMESPEC.size, TIMESPEC.offsetof('tv_nsec')]).toEqual([16, 8]);
    expect([POLLFD.size, POLLFD.offsetof('events'), POLLFD.offsetof('revents')]).toEqual([8, 4, 6]);
    expect([RLIMIT.size, RLIMIT.offsetof('rlim_max')]).toEqual([16, 8]);
    expect(WINSIZE.size).toBe(8);
  });
  it('struct epoll_event on arm64 is not packed: 16 bytes with data@8 (x86-64 packs it to 12)', () => {
    expect([EPOLL_EVENT.size, EPOLL_EVENT.offsetof('data')]).toEqual([16, 8]);
  });
  it('utsname is six char[65] (390 bytes); linux_dirent64 has d_reclen@16 d_type@18 d_name@19; sysinfo is 112 with mem_unit@104', () => {
    expect([UTSNAME.size, UTSNAME.offsetof('machine'), UTSNAME.offsetof('domainname')]).toEqual([390, 260, 325]);
    expect([DIRENT64.offsetof('d_reclen'), DIRENT64.offsetof('d_type'), DIRENT64.size]).toEqual([16, 18, 19]);
    expect([SYSINFO.size, SYSINFO.offsetof('totalram'), SYSINFO.offsetof('procs'), SYSINFO.offsetof('totalhigh'), SYSINFO.offsetof('mem_unit')]).toEqual([112, 32, 80, 88, 104]);
  });
  it('encode/decode: little-endian, signed 64-bit fields, RLIM_INFINITY as all ones, NUL-padded char arrays', () => {
    const b = STAT.encode({ st_mode: 0o100644, st_size: -1, st_ino: 2 ** 40 + 5 });
    expect(Array.from(b.subarray(16, 20))).toEqual([0xa4, 0x81, 0, 0]);
    expect(Array.from(b.subarray(48, 56))).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    const d = STAT.decode(b);
    expect([d['st_size'], d['st_ino'], d['st_mode']]).toEqual([-1, 2 ** 40 + 5, 0o100644]);
    const r = RLIMIT.encode({ rlim_cur: RLIM_INFINITY, rlim_max: 1024 });
    expect(Array.from(r.subarray(0, 8))).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(RLIMIT.decode(r)['rlim_cur']).toBe(RLIM_INFINITY);
    const u = UTSNAME.decode(UTSNAME.encode({ sysname: 'Linux', machine: 'aarch64' }));
    expect([u['sysname'], u['machine'], u['release']]).toEqual(['Linux', 'aarch64', '']);
  });
  it('uapi flags have their arm64 values (O_DIRECTORY 040000, O_NOFOLLOW 0100000, O_CLOEXEC 02000000, MAP_ANONYMOUS 0x20 ...)', () => {
    expect([O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC, AT_FDCWD]).toEqual([0o40000, 0o100000, 0o2000000, -100]);
    expect([MAP_ANONYMOUS, MAP_LOCKED, MADV_WIPEONFORK, EPOLLET]).toEqual([0x20, 0x2000, 18, 0x80000000]);
  });
});

describe('system call numbers and errno (asm-generic)', () => {
  it('the arm64 generic table: openat 56, read 63, write 64, exit_group 94, clone 220, execve 221, mmap 222, wait4 260', () => {
    expect([NR.openat, NR.close, NR.read, NR.write, NR.exit, NR.exit_group, NR.clone, NR.execve, NR.mmap, NR.wait4]).toEqual([56, 57, 63, 64, 93, 94, 220, 221, 222, 260]);
    expect([NR.getdents64, NR.pipe2, NR.ppoll, NR.epoll_pwait, NR.brk, NR.munmap, NR.mlock, NR.madvise, NR.reboot, NR.uname]).toEqual([61, 59, 73, 22, 214, 215, 228, 233, 142, 160]);
  });
  it('strerror gives the glibc messages; names map both ways; unknown numbers are reported', () => {
    expect(strerror(2)).toBe('No such file or directory');
    expect(strerror(-14)).toBe('Bad address');
    expect(errnoName(-38)).toBe('ENOSYS');
    expect(errnoByName('EEXIST')).toBe(17);
    expect(strerror(999)).toBe('Unknown error 999');
  });
  it('MAX_ERRNO: only -4095..-1 are errors (a high mmap address is not)', () => {
    expect([isErr(-1), isErr(-4095), isErr(-4096), isErr(0), isErr(0x7fff_0000_0000)]).toEqual([true, true, false, false, false]);
  });
});

describe('printf formatting (C11 7.21.6.1)', () => {
  it('integers: width, precision, flags, long and negative values', () => {
    expect(sprintf('%d|%5d|%-5d|%05d|%+d|% d', 42, 42, 42, 42, 42, 42)).toBe('42|   42|42   |00042|+42| 42');
    expect(sprintf('%.3d|%8.3d|%x|%#x|%X|%#o|%o', 7, 7, 255, 255, 255, 8, 0)).toBe('007|     007|ff|0xff|FF|010|0');
    expect(sprintf('%u|%lu|%ld', -1, -1, -1)).toBe('4294967295|18446744073709551615|-1');
    expect(sprintf('%lld|%llx', 2n ** 62n, 2n ** 63n)).toBe('4611686018427387904|8000000000000000');
  });
  it('strings, chars, %%, %p, * width and precision', () => {
    expect(sprintf('%s|%8s|%-8s|%.2s|%c|%%', 'abc', 'abc', 'abc', 'abc', 65)).toBe('abc|     abc|abc     |ab|A|%');
    expect(sprintf('%*d|%-*d|%.*s', 4, 1, 4, 1, 1, 'xyz')).toBe('   1|1   |x');
    expect(sprintf('%p|%p', 0x1000, 0)).toBe('0x1000|(nil)');
  });
  it('floating point: %f %e %g with precision', () => {
    expect(sprintf('%f|%.2f|%8.3f|%e|%.1e', 3.14159, 3.14159, 3.14159, 12345.678, 0.000123)).toBe('3.141590|3.14|   3.142|1.234568e+04|1.2e-04');
    expect(sprintf('%g|%g|%g|%G', 100000, 1000000, 0.0001, 1e-10)).toBe('100000|1e+06|0.0001|1E-10');
  });
  it('missing arguments print as 0 or (null), unknown conversions print as written', () => {
    expect(sprintf('%d %s')).toBe('0 (null)');
    expect(sprintf('%y|%')).toBe('%y|%');
  });
});

describe('crt0 and C strings', () => {
  it('readInitialStack parses argc, argv, envp and auxv as arm64 Linux lays them out', () => {
    const cpu = new FlatCpu();
    const put = (va: number, s: string): number => withCpu(cpu, () => putCstr(va, s));
    put(0x9000, 'prog');
    put(0x9010, 'arg one');
    put(0x9020, 'HOME=/');
    const sp = 0x8000;
    const slots = [2, 0x9000, 0x9010, 0, 0x9020, 0, 6, 4096, 11, 0, 0, 0];
    slots.forEach((v, i) => cpu.st64(sp + 8 * i, v));
    const st = withCpu(cpu, () => readInitialStack(sp));
    expect(st.argc).toBe(2);
    expect(st.argv).toEqual(['prog', 'arg one']);
    expect(st.envp).toEqual(['HOME=/']);
    expect([...st.auxv]).toEqual([
      [6, 4096],
      [11, 0],
    ]);
  });
  it('cstr stops at the NUL and at the length bound; UTF-8 round trips', () => {
    const cpu = new FlatCpu();
    withCpu(cpu, () => {
      putCstr(0x100, 'héllo');
      expect(cstr(0x100)).toBe('héllo');
      expect(cstr(0x100, 1)).toBe('h');
      cpu.mem.fill(0x41, 0x2000, 0x3000);
      expect(cstr(0x2000, 100).length).toBe(100);
    });
  });
});

describe('malloc over brk and mmap', () => {
  function brkCpu(opts: { brk?: boolean; mmap?: boolean } = {}): FlatCpu {
    let brk = 0x40000;
    let mmapNext = 0x80000;
    return new FlatCpu((nr, a) => {
      if (nr === NR.brk) {
        if (opts.brk === false) return -38;
        if (a[0]! > brk) brk = a[0]!;
        return brk;
      }
      if (nr === NR.mmap) {
        if (opts.mmap === false) return -12;
        const va = mmapNext;
        mmapNext += Math.ceil(a[1]! / 4096) * 4096;
        return va;
      }
      if (nr === NR.munmap) return 0;
      return -38;
    });
  }

  it('small blocks come from the brk arena, 16-aligned and disjoint; free coalesces so a large block fits again', () => {
    const cpu = brkCpu();
    withCpu(cpu, () => {
      const h = new Heap();
      const a = runSync(h.malloc(10));
      const b = runSync(h.malloc(100));
      const c = runSync(h.malloc(1));
      expect(a).toBe(0x40000);
      expect([a % 16, b % 16, c % 16]).toEqual([0, 0, 0]);
      expect(b).toBeGreaterThanOrEqual(a + 16);
      expect(c).toBeGreaterThanOrEqual(b + 112);
      runSync(h.freeBlock(b));
      runSync(h.freeBlock(a));
      runSync(h.freeBlock(c));
      expect(h.inUse).toBe(0);
      const big = runSync(h.malloc(60000));
      expect(big).toBe(0x40000);
      expect(cpu.calls.filter(([nr]) => nr === NR.brk).length).toBe(2); // brk(0) once, one grow
    });
  });

  it(`blocks of MMAP_THRESHOLD (${MMAP_THRESHOLD}) and more get their own mapping, unmapped on free`, () => {
    const cpu = brkCpu();
    withCpu(cpu, () => {
      const h = new Heap();
      const p = runSync(h.malloc(MMAP_THRESHOLD));
      expect(p).toBe(0x80000);
      runSync(h.freeBlock(p));
      expect(cpu.calls.some(([nr, a]) => nr === NR.munmap && a[0] === 0x80000 && a[1] === MMAP_THRESHOLD)).toBe(true);
    });
  });

  it('without brk the arena grows with mmap; with neither, malloc returns 0 (no exception)', () => {
    withCpu(brkCpu({ brk: false }), () => {
      expect(runSync(new Heap().malloc(32))).toBe(0x80000);
    });
    withCpu(brkCpu({ brk: false, mmap: false }), () => {
      expect(runSync(new Heap().malloc(32))).toBe(0);
    });
  });

  it('a forked copy keeps the same blocks; frees in one do not affect the other', () => {
    withCpu(brkCpu(), () => {
      const h = new Heap();
      const a = runSync(h.malloc(64));
      const k = h.clone();
      runSync(k.freeBlock(a));
      expect(k.sizeOf(a)).toBe(0);
      expect(h.sizeOf(a)).toBe(64);
      expect(runSync(h.malloc(64))).not.toBe(a);
      expect(runSync(k.malloc(64))).toBe(a);
    });
  });

  it('free of an unknown pointer or 0 is ignored; absurd sizes fail with 0', () => {
    withCpu(brkCpu(), () => {
      const h = new Heap();
      runSync(h.freeBlock(0));
      runSync(h.freeBlock(12345));
      expect(runSync(h.malloc(-1))).toBe(0);
      expect(runSync(h.malloc(2 ** 50))).toBe(0);
    });
  });
});

describe('tool output formats', () => {
  it('free: procps columns from /proc/meminfo (KiB), used = total - free - buff/cache', () => {
    const m = parseMeminfo('MemTotal:     1000 kB\nMemFree:       600 kB\nMemAvailable:  800 kB\nBuffers:        10 kB\nCached:         90 kB\nShmem:           5 kB\nSwapTotal:     100 kB\nSwapFree:       40 kB\n');
    const t = freeTable(m).split('\n');
    expect(t[0]).toMatch(/total +used +free +shared +buff\/cache +available/);
    expect(t[1]!.trim().split(/\s+/)).toEqual(['Mem:', '1000', '300', '600', '5', '100', '800']);
    expect(t[2]!.trim().split(/\s+/)).toEqual(['Swap:', '100', '60', '40']);
  });
  it('hexdump: canonical -C, default 16-bit words, "*" for repeated lines', () => {
    const d = new Uint8Array(48);
    d[0] = 0x41;
    expect(hexdumpText(d, true)).toBe('00000000  41 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |A...............|\n00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000030\n');
    expect(hexdumpText(new Uint8Array([1, 2, 3]), false)).toBe('0000000 0201 0003\n0000003\n');
  });
  it('cmp: first difference with byte and line numbers, EOF on the shorter file', () => {
    const e = new TextEncoder();
    expect(compareBytes(e.encode('a\nbc'), e.encode('a\nbd'), 'x', 'y')).toBe('x y differ: byte 4, line 2\n');
    expect(compareBytes(e.encode('ab'), e.encode('abc'), 'x', 'y')).toBe('cmp: EOF on x after byte 2, line 1\n');
    expect(compareBytes(e.encode('ab'), e.encode('ab'), 'x', 'y')).toBeUndefined();
  });
  it('ls -l mode strings include setuid, setgid and sticky letters', () => {
    expect(modeString(0o040755)).toBe('drwxr-xr-x');
    expect(modeString(0o041777)).toBe('drwxrwxrwt');
    expect(modeString(0o104755)).toBe('-rwsr-xr-x');
    expect(modeString(0o020620)).toBe('crw--w----');
  });
  it('sleep durations, signal names, kmsg records', () => {
    expect([parseDuration('1'), parseDuration('0.5'), parseDuration('2m'), parseDuration('x')]).toEqual([1e9, 5e8, 120e9, undefined]);
    expect([signalNumber('TERM'), signalNumber('SIGKILL'), signalNumber('9'), signalNumber('NOPE')]).toEqual([15, 9, 9, undefined]);
    expect(formatKmsgRecord('6,12,1500000,-;hello\n')).toBe('[    1.500000] hello\n');
  });
  it('gzip: deterministic RFC 1952 output (magic 1f 8b, deflate) that gunzip inverts; garbage is rejected', () => {
    const data = new TextEncoder().encode('svasoc '.repeat(100));
    const z = gzipBytes(data);
    expect([z[0], z[1], z[2]]).toEqual([0x1f, 0x8b, 8]);
    expect(gzipBytes(data)).toEqual(z);
    expect(z.length).toBeLessThan(data.length / 5);
    expect(gunzipBytes(z)).toEqual(data);
    expect(gunzipBytes(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});
