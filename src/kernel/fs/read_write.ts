// read/write and friends (fs/read_write.c): the file position, O_APPEND, and the
// choice between a driver's ->read/->write (user pointer) and ->read_iter/->write_iter.

import { registerSyscall, sys_int, sys_long, sys_ulong } from '../syscalls/table.js';
import { __NR_read, __NR_write, __NR_readv, __NR_writev, __NR_pread64, __NR_pwrite64, __NR_lseek } from '../syscalls/numbers.js';
import { EBADF, EFAULT, EINVAL, ESPIPE, EISDIR } from '../lib/errno.js';
import { access_ok, get_user } from '../lib/uaccess.js';
import { fd_file } from './file.js';
import { IovIter, type IoVec } from './iov_iter.js';
import { FMODE_READ, FMODE_WRITE, S_ISDIR, type File } from './types.js';

/** MAX_RW_COUNT: a single read/write moves at most INT_MAX & PAGE_MASK bytes. */
export const MAX_RW_COUNT = 0x7ffff000;
export const UIO_MAXIOV = 1024;

/** vfs_read into an iterator at `pos` (updated). Returns bytes or -errno. */
export function* vfs_iter_read(file: File, iter: IovIter, pos: { pos: number }): Generator<unknown, number, unknown> {
  if (!(file.f_mode & FMODE_READ)) return -EBADF;
  if (S_ISDIR(file.f_inode.i_mode)) return -EISDIR;
  const fop = file.f_op;
  if (fop.read_iter) {
    const iocb = { ki_filp: file, ki_pos: pos.pos };
    const r = yield* fop.read_iter(iocb, iter);
    if (r > 0) pos.pos = iocb.ki_pos;
    return r;
  }
  return -EINVAL;
}

export function* vfs_iter_write(file: File, iter: IovIter, pos: { pos: number }): Generator<unknown, number, unknown> {
  if (!(file.f_mode & FMODE_WRITE)) return -EBADF;
  const fop = file.f_op;
  if (fop.write_iter) {
    const iocb = { ki_filp: file, ki_pos: pos.pos };
    const r = yield* fop.write_iter(iocb, iter);
    if (r > 0) pos.pos = iocb.ki_pos;
    return r;
  }
  return -EINVAL;
}

export function* vfs_read(file: File, ubuf: number, count: number, pos: { pos: number }): Generator<unknown, number, unknown> {
  if (!(file.f_mode & FMODE_READ)) return -EBADF;
  if (S_ISDIR(file.f_inode.i_mode)) return -EISDIR;
  const n = Math.min(count, MAX_RW_COUNT);
  if (!access_ok(ubuf, n)) return -EFAULT;
  if (file.f_op.read) return yield* file.f_op.read(file, ubuf, n, pos);
  if (file.f_op.read_iter) return yield* vfs_iter_read(file, IovIter.ubuf(ubuf, n), pos);
  return -EINVAL;
}

export function* vfs_write(file: File, ubuf: number, count: number, pos: { pos: number }): Generator<unknown, number, unknown> {
  if (!(file.f_mode & FMODE_WRITE)) return -EBADF;
  const n = Math.min(count, MAX_RW_COUNT);
  if (!access_ok(ubuf, n)) return -EFAULT;
  if (file.f_op.write) return yield* file.f_op.write(file, ubuf, n, pos);
  if (file.f_op.write_iter) return yield* vfs_iter_write(file, IovIter.ubuf(ubuf, n), pos);
  return -EINVAL;
}

/** Kernel reads of a whole file (exec, binfmt_script): up to `max` bytes from offset 0. */
export function* kernel_read(file: File, max: number): Generator<unknown, Uint8Array | number, unknown> {
  const buf = new Uint8Array(Math.min(max, Math.max(0, file.f_inode.i_size) || max));
  const pos = { pos: 0 };
  let done = 0;
  while (done < buf.length) {
    const r = yield* vfs_iter_read(file, IovIter.kvec(buf, done, buf.length - done), pos);
    if (r < 0) return r;
    if (r === 0) break;
    done += r;
  }
  return buf.subarray(0, done);
}

function stream_pos(file: File): { pos: number } {
  return { pos: file.f_pos };
}

function* ksys_read(fd: number, buf: number, count: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const pos = stream_pos(f);
  const r = yield* vfs_read(f, buf, sys_ulong(count), pos);
  if (r > 0) f.f_pos = pos.pos;
  return r;
}

function* ksys_write(fd: number, buf: number, count: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const pos = stream_pos(f);
  const r = yield* vfs_write(f, buf, sys_ulong(count), pos);
  if (r > 0) f.f_pos = pos.pos;
  return r;
}

function* ksys_pread64(fd: number, buf: number, count: number, offset: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const off = sys_long(offset);
  if (off < 0) return -EINVAL;
  if (!f.f_op.llseek && !f.f_op.read_iter) return -ESPIPE;
  if (f.f_op.llseek && f.f_op.llseek(f, f.f_pos, 1) === -ESPIPE) return -ESPIPE;
  return yield* vfs_read(f, buf, sys_ulong(count), { pos: off });
}

function* ksys_pwrite64(fd: number, buf: number, count: number, offset: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const off = sys_long(offset);
  if (off < 0) return -EINVAL;
  if (f.f_op.llseek && f.f_op.llseek(f, f.f_pos, 1) === -ESPIPE) return -ESPIPE;
  return yield* vfs_write(f, buf, sys_ulong(count), { pos: off });
}

/** import_iovec: reads `iovcnt` struct iovec {base, len} from user memory. */
function import_iovec(uvec: number, iovcnt: number): IoVec[] | number {
  const n = sys_int(iovcnt);
  if (n < 0 || n > UIO_MAXIOV) return -EINVAL;
  const out: IoVec[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = get_user(uvec + 16 * i, 8);
    const len = get_user(uvec + 16 * i + 8, 8);
    if (base === undefined || len === undefined) return -EFAULT;
    if (len > MAX_RW_COUNT || total + len > MAX_RW_COUNT) return -EINVAL;
    if (!access_ok(base, len)) return -EFAULT;
    total += len;
    out.push({ base, len });
  }
  return out;
}

/** do_readv / do_writev: vectored I/O in one direction; without an iter op, a loop of single transfers (do_loop_readv_writev). */
function* do_readv_writev(fd: number, vec: number, vlen: number, write: boolean): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const iov = import_iovec(vec, vlen);
  if (typeof iov === 'number') return iov;
  const pos = stream_pos(f);
  let r: number;
  if (write ? f.f_op.write_iter : f.f_op.read_iter) r = yield* (write ? vfs_iter_write : vfs_iter_read)(f, IovIter.iovec(iov), pos);
  else {
    r = 0;
    for (const v of iov) {
      const n = yield* (write ? vfs_write : vfs_read)(f, v.base, v.len, pos);
      if (n < 0) {
        if (r === 0) r = n;
        break;
      }
      r += n;
      if (n < v.len) break;
    }
  }
  if (r > 0) f.f_pos = pos.pos;
  return r;
}

function sys_readv(fd: number, vec: number, vlen: number): Generator<unknown, number, unknown> {
  return do_readv_writev(fd, vec, vlen, false);
}

function sys_writev(fd: number, vec: number, vlen: number): Generator<unknown, number, unknown> {
  return do_readv_writev(fd, vec, vlen, true);
}

function* sys_lseek(fd: number, offset: number, whence: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  const w = sys_int(whence);
  if (w < 0 || w > 4) return -EINVAL;
  if (!f.f_op.llseek) return -ESPIPE;
  return f.f_op.llseek(f, sys_long(offset), w);
}

registerSyscall(__NR_read, 'read', ksys_read);
registerSyscall(__NR_write, 'write', ksys_write);
registerSyscall(__NR_readv, 'readv', sys_readv);
registerSyscall(__NR_writev, 'writev', sys_writev);
registerSyscall(__NR_pread64, 'pread64', ksys_pread64);
registerSyscall(__NR_pwrite64, 'pwrite64', ksys_pwrite64);
registerSyscall(__NR_lseek, 'lseek', sys_lseek);
