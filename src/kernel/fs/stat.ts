// stat family (fs/stat.c): struct stat in the asm-generic layout arm64 uses (128
// bytes), and readlinkat.

import { registerSyscall, sys_int } from '../syscalls/table.js';
import { __NR_fstat, __NR_newfstatat, __NR_readlinkat, __NR_statfs } from '../syscalls/numbers.js';
import { EBADF, EFAULT, EINVAL, ENOENT } from '../lib/errno.js';
import { copy_to_user } from '../lib/uaccess.js';
import { strncpy_from_user } from '../lib/uaccess.js';
import { fd_file } from './file.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, LOOKUP_FOLLOW, PATH_MAX, path_lookupat } from './namei.js';
import { S_ISLNK, new_encode_dev, type Inode } from './types.js';

export const STAT_SIZE = 128;

/** cp_new_stat: fills `buf` (128 bytes) from an inode. */
export function fill_stat(inode: Inode, buf: Uint8Array): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  buf.fill(0);
  v.setBigUint64(0, BigInt(inode.i_sb.s_dev), true); // st_dev
  v.setBigUint64(8, BigInt(inode.i_ino), true); // st_ino
  v.setUint32(16, inode.i_mode >>> 0, true);
  v.setUint32(20, inode.i_nlink >>> 0, true);
  v.setUint32(24, inode.i_uid >>> 0, true);
  v.setUint32(28, inode.i_gid >>> 0, true);
  v.setBigUint64(32, BigInt(new_encode_dev(inode.i_rdev)), true);
  v.setBigInt64(48, BigInt(inode.i_size), true);
  v.setInt32(56, 4096, true); // st_blksize
  v.setBigInt64(64, BigInt(Math.ceil(inode.i_size / 512)), true); // st_blocks
  const ts = (off: number, ns: number): void => {
    v.setBigInt64(off, BigInt(Math.floor(ns / 1e9)), true);
    v.setBigUint64(off + 8, BigInt(Math.floor(ns % 1e9)), true);
  };
  ts(72, inode.i_atime);
  ts(88, inode.i_mtime);
  ts(104, inode.i_ctime);
}

function put_stat(inode: Inode, ubuf: number): number {
  const b = new Uint8Array(STAT_SIZE);
  fill_stat(inode, b);
  return copy_to_user(ubuf, b, STAT_SIZE) === 0 ? 0 : -EFAULT;
}

function* sys_fstat(fd: number, statbuf: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  return put_stat(f.f_inode, statbuf);
}

function* sys_newfstatat(dfd: number, filename: number, statbuf: number, flag: number): Generator<unknown, number, unknown> {
  const flags = sys_int(flag);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800)) return -EINVAL;
  const name = strncpy_from_user(filename, PATH_MAX);
  if (typeof name === 'number') return name;
  if (name.length === 0) {
    if (!(flags & AT_EMPTY_PATH)) return -ENOENT;
    const f = fd_file(sys_int(dfd));
    if (f === undefined) return -EBADF;
    return put_stat(f.f_inode, statbuf);
  }
  const p = path_lookupat(sys_int(dfd), name, flags & AT_SYMLINK_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  return put_stat(p.dentry.d_inode!, statbuf);
}

function* sys_readlinkat(dfd: number, pathname: number, buf: number, bufsiz: number): Generator<unknown, number, unknown> {
  const size = sys_int(bufsiz);
  if (size <= 0) return -EINVAL;
  const name = strncpy_from_user(pathname, PATH_MAX);
  if (typeof name === 'number') return name;
  const p = path_lookupat(sys_int(dfd), name, 0);
  if (typeof p === 'number') return p;
  const inode = p.dentry.d_inode!;
  if (!S_ISLNK(inode.i_mode)) return -EINVAL;
  const target = inode.i_op.get_link ? inode.i_op.get_link(p.dentry, inode) : inode.i_link ?? '';
  if (typeof target === 'number') return target;
  const bytes = new TextEncoder().encode(target);
  const n = Math.min(bytes.length, size);
  if (copy_to_user(buf, bytes, n) !== 0) return -EFAULT;
  return n;
}

function* sys_statfs(pathname: number, buf: number): Generator<unknown, number, unknown> {
  const name = strncpy_from_user(pathname, PATH_MAX);
  if (typeof name === 'number') return name;
  const p = path_lookupat(-100, name, LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  const sb = p.mnt.mnt_sb;
  const st = sb.s_op.statfs ? sb.s_op.statfs(sb) : { f_type: sb.s_magic, f_bsize: 4096, f_blocks: 0, f_bfree: 0 };
  // struct statfs (asm-generic, 64-bit): f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen, f_frsize, f_flags, spare[4]
  const out = new Uint8Array(120);
  const v = new DataView(out.buffer);
  v.setBigInt64(0, BigInt(st.f_type), true);
  v.setBigInt64(8, BigInt(st.f_bsize), true);
  v.setBigUint64(16, BigInt(st.f_blocks), true);
  v.setBigUint64(24, BigInt(st.f_bfree), true);
  v.setBigUint64(32, BigInt(st.f_bfree), true);
  v.setBigInt64(64, 255n, true);
  v.setBigInt64(72, BigInt(st.f_bsize), true);
  return copy_to_user(buf, out, out.length) === 0 ? 0 : -EFAULT;
}

registerSyscall(__NR_fstat, 'fstat', sys_fstat);
registerSyscall(__NR_newfstatat, 'newfstatat', sys_newfstatat);
registerSyscall(__NR_readlinkat, 'readlinkat', sys_readlinkat);
registerSyscall(__NR_statfs, 'statfs', sys_statfs);
