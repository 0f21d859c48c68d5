// fcntl, dup, dup3 (fs/fcntl.c, fs/file.c).

import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_fcntl, __NR_dup, __NR_dup3 } from '../syscalls/numbers.js';
import { EBADF, EINVAL, EMFILE } from '../lib/errno.js';
import { current } from '../sched/core.js';
import { RLIMIT_NOFILE, rlimit } from '../sched/task.js';
import { alloc_fd, close_fd, fd_file, fd_install, get_files } from './file.js';
import { O_APPEND, O_CLOEXEC, O_DIRECT, O_NOATIME, O_NONBLOCK, O_ACCMODE, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC } from './types.js';

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

function* sys_fcntl(fd: number, cmd: number, arg: number): Generator<unknown, number, unknown> {
  const n = sys_int(fd);
  const f = fd_file(n);
  if (f === undefined) return -EBADF;
  const files = get_files();
  switch (sys_int(cmd)) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const start = sys_int(arg);
      if (start < 0 || start >= rlimit(current(), RLIMIT_NOFILE)) return -EINVAL;
      const nfd = alloc_fd(start, sys_int(cmd) === F_DUPFD_CLOEXEC);
      if (nfd < 0) return nfd;
      f.f_count++;
      fd_install(nfd, f);
      return nfd;
    }
    case F_GETFD:
      return files.close_on_exec[n] ? FD_CLOEXEC : 0;
    case F_SETFD:
      files.close_on_exec[n] = (sys_int(arg) & FD_CLOEXEC) !== 0;
      return 0;
    case F_GETFL:
      return f.f_flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC) | (f.f_flags & O_ACCMODE);
    case F_SETFL:
      f.f_flags = (f.f_flags & ~SETFL_MASK) | (sys_uint(arg) & SETFL_MASK);
      return 0;
    default:
      return -EINVAL;
  }
}

function* sys_dup(fildes: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fildes));
  if (f === undefined) return -EBADF;
  const nfd = alloc_fd(0, false);
  if (nfd < 0) return nfd;
  f.f_count++;
  fd_install(nfd, f);
  return nfd;
}

function* sys_dup3(oldfd: number, newfd: number, flags: number): Generator<unknown, number, unknown> {
  const o = sys_int(oldfd);
  const nn = sys_int(newfd);
  const fl = sys_int(flags);
  if (fl & ~O_CLOEXEC) return -EINVAL;
  if (o === nn) return -EINVAL;
  const f = fd_file(o);
  if (f === undefined) return -EBADF;
  if (nn < 0 || nn >= rlimit(current(), RLIMIT_NOFILE)) return -EBADF;
  const files = get_files();
  if (fd_file(nn) !== undefined) yield* close_fd(nn);
  while (files.fd.length <= nn) {
    files.fd.push(null);
    files.close_on_exec.push(false);
  }
  if (nn >= 1024 * 1024) return -EMFILE;
  f.f_count++;
  files.fd[nn] = f;
  files.close_on_exec[nn] = (fl & O_CLOEXEC) !== 0;
  return nn;
}

registerSyscall(__NR_fcntl, 'fcntl', sys_fcntl);
registerSyscall(__NR_dup, 'dup', sys_dup);
registerSyscall(__NR_dup3, 'dup3', sys_dup3);
