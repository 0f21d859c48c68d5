// Error numbers as the arm64 Linux ABI defines them (include/uapi/asm-generic/errno-base.h
// and errno.h). System calls return them negated.

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const ENOTBLK = 15;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const ENOMSG = 42;
export const EOVERFLOW = 75;
export const EUSERS = 87;
export const EBADFD = 77;
export const EILSEQ = 84;
export const ENOTSOCK = 88;
export const EOPNOTSUPP = 95;
export const ETIMEDOUT = 110;
export const EALREADY = 114;
export const EINPROGRESS = 115;
export const ECANCELED = 125;
/** Kernel-internal: a system call interrupted by a signal; user space sees -EINTR. */
export const ERESTARTSYS = 512;
/** Kernel-internal restart codes (include/linux/errno.h): restart even with a handler; -EINTR with a handler; restart through restart_syscall. */
export const ERESTARTNOINTR = 513;
export const ERESTARTNOHAND = 514;
export const ERESTART_RESTARTBLOCK = 516;
/** Kernel-internal (include/linux/errno.h): a driver's probe must be retried later. */
export const EPROBE_DEFER = 517;

const NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC',
  9: 'EBADF', 10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 15: 'ENOTBLK',
  16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL',
  23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE',
  30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 34: 'ERANGE', 35: 'EDEADLK', 36: 'ENAMETOOLONG',
  37: 'ENOLCK', 38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 42: 'ENOMSG', 75: 'EOVERFLOW', 77: 'EBADFD', 84: 'EILSEQ', 87: 'EUSERS',
  88: 'ENOTSOCK', 95: 'EOPNOTSUPP', 110: 'ETIMEDOUT', 114: 'EALREADY', 115: 'EINPROGRESS', 125: 'ECANCELED',
  512: 'ERESTARTSYS', 517: 'EPROBE_DEFER',
};

/** "ENOENT" for 2 (or -2); "E?<n>" for a number without a name. */
export function errname(err: number): string {
  const n = err < 0 ? -err : err;
  return NAMES[n] ?? `E?${n}`;
}

/** True for a system-call return value that encodes an error (-4095..-1), as IS_ERR_VALUE. */
export function IS_ERR_VALUE(v: number): boolean {
  return v < 0 && v >= -4095;
}
