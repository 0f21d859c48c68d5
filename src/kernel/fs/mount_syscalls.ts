// mount(2) and umount2(2) (fs/namespace.c): filesystem types by name; no block devices.

import { registerSyscall, sys_int } from '../syscalls/table.js';
import { __NR_mount, __NR_umount2 } from '../syscalls/numbers.js';
import { strncpy_from_user } from '../lib/uaccess.js';
import { do_mount, do_umount } from './super.js';

function* sys_mount(dev_name: number, dir_name: number, type: number): Generator<unknown, number, unknown> {
  const dev = dev_name === 0 ? 'none' : strncpy_from_user(dev_name, 4096);
  if (typeof dev === 'number') return dev;
  const dir = strncpy_from_user(dir_name, 4096);
  if (typeof dir === 'number') return dir;
  const t = strncpy_from_user(type, 256);
  if (typeof t === 'number') return t;
  return do_mount(dev, dir, t);
}

function* sys_umount2(name: number, flags: number): Generator<unknown, number, unknown> {
  void sys_int(flags);
  const dir = strncpy_from_user(name, 4096);
  if (typeof dir === 'number') return dir;
  return do_umount(dir);
}

registerSyscall(__NR_mount, 'mount', sys_mount);
registerSyscall(__NR_umount2, 'umount2', sys_umount2);
