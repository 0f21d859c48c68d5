// getdents64 (fs/readdir.c): struct linux_dirent64 records, 8-byte aligned.

import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_getdents64 } from '../syscalls/numbers.js';
import { EBADF, EFAULT, EINVAL, ENOTDIR } from '../lib/errno.js';
import { copy_to_user, access_ok } from '../lib/uaccess.js';
import { fd_file } from './file.js';
import { S_ISDIR } from './types.js';

const enc = new TextEncoder();

function* sys_getdents64(fd: number, dirent: number, count: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  if (!S_ISDIR(f.f_inode.i_mode) || !f.f_op.iterate_shared) return -ENOTDIR;
  const size = sys_uint(count);
  if (!access_ok(dirent, size)) return -EFAULT;
  const buf = new Uint8Array(Math.min(size, 65536));
  const view = new DataView(buf.buffer);
  let used = 0;
  let tooSmall = false;
  const ctx = {
    pos: f.f_pos,
    actor(name: string, ino: number, dtype: number): boolean {
      const nb = enc.encode(name);
      const reclen = (19 + nb.length + 1 + 7) & ~7;
      if (used + reclen > buf.length) {
        if (used === 0) tooSmall = true;
        return false;
      }
      view.setBigUint64(used, BigInt(ino), true);
      view.setBigInt64(used + 8, BigInt(ctx.pos + 1), true);
      view.setUint16(used + 16, reclen, true);
      buf[used + 18] = dtype;
      buf.set(nb, used + 19);
      buf.fill(0, used + 19 + nb.length, used + reclen);
      used += reclen;
      return true;
    },
  };
  const r = f.f_op.iterate_shared(f, ctx);
  if (r < 0) return r;
  if (tooSmall) return -EINVAL;
  if (used > 0 && copy_to_user(dirent, buf, used) !== 0) return -EFAULT;
  f.f_pos = ctx.pos;
  return used;
}

registerSyscall(__NR_getdents64, 'getdents64', sys_getdents64);
