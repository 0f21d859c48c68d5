// The Linux user ABI on arm64 as a C program sees it: structure layouts (LP64,
// asm-generic where arm64 uses it) and the flag values of the calls libc wraps.

import { CStruct } from './cstruct.js';

// ---- structures ----

/** struct stat (include/uapi/asm-generic/stat.h, arm64): 128 bytes. */
export const STAT = new CStruct('stat', 128, 8, [
  ['st_dev', 0, 'u64'],
  ['st_ino', 8, 'u64'],
  ['st_mode', 16, 'u32'],
  ['st_nlink', 20, 'u32'],
  ['st_uid', 24, 'u32'],
  ['st_gid', 28, 'u32'],
  ['st_rdev', 32, 'u64'],
  ['st_size', 48, 'i64'],
  ['st_blksize', 56, 'i32'],
  ['st_blocks', 64, 'i64'],
  ['st_atime', 72, 'i64'],
  ['st_atime_nsec', 80, 'u64'],
  ['st_mtime', 88, 'i64'],
  ['st_mtime_nsec', 96, 'u64'],
  ['st_ctime', 104, 'i64'],
  ['st_ctime_nsec', 112, 'u64'],
] as const);

/** struct timespec (64-bit time_t). */
export const TIMESPEC = new CStruct('timespec', 16, 8, [
  ['tv_sec', 0, 'i64'],
  ['tv_nsec', 8, 'i64'],
] as const);

/** struct pollfd (include/uapi/asm-generic/poll.h). */
export const POLLFD = new CStruct('pollfd', 8, 4, [
  ['fd', 0, 'i32'],
  ['events', 4, 'i16'],
  ['revents', 6, 'i16'],
] as const);

/** struct epoll_event: packed only on x86-64; on arm64 `data` is 8-aligned, 16 bytes. */
export const EPOLL_EVENT = new CStruct('epoll_event', 16, 8, [
  ['events', 0, 'u32'],
  ['data', 8, 'u64'],
] as const);

/** struct rlimit (two rlim_t = unsigned long). */
export const RLIMIT = new CStruct('rlimit', 16, 8, [
  ['rlim_cur', 0, 'u64'],
  ['rlim_max', 8, 'u64'],
] as const);

/** struct new_utsname: six char[65] fields. */
export const UTSNAME = new CStruct('utsname', 390, 1, [
  ['sysname', 0, { char: 65 }],
  ['nodename', 65, { char: 65 }],
  ['release', 130, { char: 65 }],
  ['version', 195, { char: 65 }],
  ['machine', 260, { char: 65 }],
  ['domainname', 325, { char: 65 }],
] as const);

/** struct linux_dirent64 header; d_name (NUL-terminated) follows at 19, d_reclen is 8-aligned. */
export const DIRENT64 = new CStruct('linux_dirent64', 19, 8, [
  ['d_ino', 0, 'u64'],
  ['d_off', 8, 'i64'],
  ['d_reclen', 16, 'u16'],
  ['d_type', 18, 'u8'],
] as const);
export const DIRENT64_NAME_OFFSET = 19;

/** struct sysinfo (include/uapi/linux/sysinfo.h, LP64): 112 bytes. */
export const SYSINFO = new CStruct('sysinfo', 112, 8, [
  ['uptime', 0, 'i64'],
  ['loads0', 8, 'u64'],
  ['loads1', 16, 'u64'],
  ['loads2', 24, 'u64'],
  ['totalram', 32, 'u64'],
  ['freeram', 40, 'u64'],
  ['sharedram', 48, 'u64'],
  ['bufferram', 56, 'u64'],
  ['totalswap', 64, 'u64'],
  ['freeswap', 72, 'u64'],
  ['procs', 80, 'u16'],
  ['totalhigh', 88, 'u64'],
  ['freehigh', 96, 'u64'],
  ['mem_unit', 104, 'u32'],
] as const);

/** struct winsize (TIOCGWINSZ). */
export const WINSIZE = new CStruct('winsize', 8, 2, [
  ['ws_row', 0, 'u16'],
  ['ws_col', 2, 'u16'],
  ['ws_xpixel', 4, 'u16'],
  ['ws_ypixel', 6, 'u16'],
] as const);

/** struct termios as TCGETS fills it (asm-generic termbits.h: 4 flags, c_line, c_cc[19]). */
export const TERMIOS_SIZE = 36;

// ---- constants ----

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EMPTY_PATH = 0x1000;

// open flags (asm-generic/fcntl.h, with arm64's O_DIRECTORY/O_NOFOLLOW/O_DIRECT/O_LARGEFILE)
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_ACCMODE = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o40000;
export const O_NOFOLLOW = 0o100000;
export const O_CLOEXEC = 0o2000000;

// eventfd(2) flags (include/uapi/linux/eventfd.h)
export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// file types (include/uapi/linux/stat.h) and dirent d_type
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o60000;
export const S_IFDIR = 0o40000;
export const S_IFCHR = 0o20000;
export const S_IFIFO = 0o10000;
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

// mmap and friends (asm-generic/mman-common.h)
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
/** mmap's error return: (void *)-1, i.e. a -errno value. */
export const MAP_FAILED = -1;
export const MADV_NORMAL = 0;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;

// poll/epoll
export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const EPOLL_CLOEXEC = O_CLOEXEC;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLET = 0x80000000;

// clocks
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_BOOTTIME = 7;

// resource limits (asm-generic/resource.h)
export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
/** RLIM_INFINITY is ~0UL; 2^64 - 1 is not a safe Number, so it is kept as the u64 decode gives it. */
export const RLIM_INFINITY = 18446744073709551615;

// signals (arm64 uses the generic numbering)
export const SIGNALS: readonly string[] = [
  '', 'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
  'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS',
];
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGKILL = 9;
export const SIGSEGV = 11;
export const SIGPIPE = 13;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGUSR1 = 10;
export const SIGUSR2 = 12;
export const SIGALRM = 14;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIG_DFL = 0;
export const SIG_IGN = 1;
/** sa_flags (asm-generic/signal-defs.h; SA_RESTORER as arm64 has it). */
export const SA_NOCLDSTOP = 0x1;
export const SA_NOCLDWAIT = 0x2;
export const SA_SIGINFO = 0x4;
export const SA_RESTORER = 0x04000000;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;
/** rt_sigprocmask `how`. */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;
/** si_code values. */
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_TKILL = -6;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
/** sigaltstack ss_flags. */
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const MINSIGSTKSZ = 5120;
/** The bit of `sig` in a sigset_t (signals 1..31). */
export const sigbit = (sig: number): number => (sig >= 1 && sig <= 31 ? 2 ** (sig - 1) : 0);
/** siginfo_t fields (arm64: si_signo 0, si_errno 4, si_code 8; _kill/_sigchld: si_pid 16, si_uid 20, si_status 24). */
export const SIGINFO = { signo: 0, errno: 4, code: 8, pid: 16, uid: 20, status: 24, size: 128 } as const;
/** ucontext_t: uc_sigmask at 40; uc_mcontext (struct sigcontext) at 176: regs[31] at +8, sp +256, pc +264, pstate +272, __reserved +288. */
export const UCONTEXT = { sigmask: 40, mcontext: 176, regs: 184, sp: 432, pc: 440, pstate: 448, reserved: 464 } as const;

// wait
export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WIFEXITED = (s: number): boolean => (s & 0x7f) === 0;
export const WEXITSTATUS = (s: number): number => (s >> 8) & 0xff;
export const WIFSIGNALED = (s: number): boolean => (s & 0x7f) !== 0 && (s & 0x7f) !== 0x7f;
export const WTERMSIG = (s: number): number => s & 0x7f;

// reboot (include/uapi/linux/reboot.h)
export const LINUX_REBOOT_MAGIC1 = 0xfee1dead;
export const LINUX_REBOOT_MAGIC2 = 672274793;
export const LINUX_REBOOT_CMD_RESTART = 0x01234567;
export const LINUX_REBOOT_CMD_HALT = 0xcdef0123;
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc;

// auxiliary vector types (include/uapi/linux/auxvec.h)
export const AT_NULL = 0;
export const AT_PHDR = 3;
export const AT_PAGESZ = 6;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_EXECFN = 31;

// ioctl (asm-generic/ioctls.h)
export const TCGETS = 0x5401;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCNOTTY = 0x5422;
export const TIOCGSID = 0x5429;

// clone
export const CLONE_VM = 0x00000100;
export const CLONE_VFORK = 0x00004000;
