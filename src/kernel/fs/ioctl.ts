// ioctl (fs/ioctl.c): the generic commands every file understands (FIOCLEX, FIONCLEX,
// FIONBIO, FIONREAD for regular files), then the file's unlocked_ioctl.

import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_ioctl } from '../syscalls/numbers.js';
import { EBADF, EFAULT, ENOTTY } from '../lib/errno.js';
import { get_user, put_user } from '../lib/uaccess.js';
import { fd_file, get_files } from './file.js';
import { O_NONBLOCK, S_ISREG } from './types.js';

export const FIOCLEX = 0x5451;
export const FIONCLEX = 0x5450;
export const FIONBIO = 0x5421;
export const FIONREAD = 0x541b;
export const FIOASYNC = 0x5452;

function* sys_ioctl(fd: number, cmd: number, arg: number): Generator<unknown, number, unknown> {
  const n = sys_int(fd);
  const f = fd_file(n);
  if (f === undefined) return -EBADF;
  const c = sys_uint(cmd);
  switch (c) {
    case FIOCLEX:
      get_files().close_on_exec[n] = true;
      return 0;
    case FIONCLEX:
      get_files().close_on_exec[n] = false;
      return 0;
    case FIONBIO: {
      const v = get_user(arg, 4);
      if (v === undefined) return -EFAULT;
      if (v) f.f_flags |= O_NONBLOCK;
      else f.f_flags &= ~O_NONBLOCK;
      return 0;
    }
    case FIONREAD:
      if (S_ISREG(f.f_inode.i_mode)) return put_user(Math.max(0, f.f_inode.i_size - f.f_pos), arg, 4);
      break;
  }
  if (!f.f_op.unlocked_ioctl) return -ENOTTY;
  return yield* f.f_op.unlocked_ioctl(f, c, arg);
}

registerSyscall(__NR_ioctl, 'ioctl', sys_ioctl);
