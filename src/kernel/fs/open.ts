// Opening and closing files (fs/open.c, fs/namei.c do_filp_open, fs/file_table.c):
// openat with O_CREAT/O_EXCL/O_TRUNC/O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC, permission
// checks against the caller's fsuid/fsgid, and the final release of a file.

import { current } from '../sched/core.js';
import { registerSyscall } from '../syscalls/table.js';
import { __NR_openat, __NR_close, __NR_faccessat, __NR_chdir, __NR_fchdir, __NR_fchmodat, __NR_fchmod, __NR_fchownat, __NR_fchown, __NR_ftruncate, __NR_umask, __NR_getcwd } from '../syscalls/numbers.js';
import { sys_int, sys_uint } from '../syscalls/table.js';
import { strncpy_from_user, copy_to_user } from '../lib/uaccess.js';
import { EACCES, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EPERM, ERANGE, ENAMETOOLONG, EFAULT } from '../lib/errno.js';
import { CAP_CHOWN, CAP_FOWNER, has_capability } from '../sched/task.js';
import {
  AT_FDCWD,
  AT_EACCESS,
  AT_SYMLINK_NOFOLLOW,
  AT_EMPTY_PATH,
  LOOKUP_FOLLOW,
  MAY_EXEC,
  MAY_READ,
  MAY_WRITE,
  PATH_MAX,
  d_path,
  inode_permission,
  lookup_one,
  path_lookupat,
  path_parentat,
} from './namei.js';
import {
  Dentry,
  FMODE_LSEEK,
  FMODE_PREAD,
  FMODE_PWRITE,
  FMODE_READ,
  FMODE_WRITE,
  File,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_TRUNC,
  O_WRONLY,
  O_RDWR,
  S_ISDIR,
  S_ISLNK,
  S_ISREG,
  S_IFMT,
  type Path,
} from './types.js';
import { alloc_fd, close_fd, fd_file, fd_install, fput, set_file_final_release } from './file.js';

function* file_final_release(file: File): Generator<unknown, void, unknown> {
  const inode = file.f_inode;
  if (file.f_op.release) {
    const r = file.f_op.release(inode, file);
    if (r !== undefined) yield* r;
  }
  inode.i_count--;
  if (inode.i_nlink === 0 && inode.i_count <= 1 && inode.i_sb.s_op.evict_inode) inode.i_sb.s_op.evict_inode(inode);
}

export function open_init(): void {
  set_file_final_release(file_final_release);
}

/** vfs_open on an already looked-up path: the File, or a negative errno. */
export function* vfs_open(path: Path, flags: number): Generator<unknown, File | number, unknown> {
  const inode = path.dentry.d_inode;
  if (inode === null) return -ENOENT;
  const acc = flags & O_ACCMODE;
  let fmode = acc === O_WRONLY ? FMODE_WRITE : acc === O_RDWR ? FMODE_READ | FMODE_WRITE : FMODE_READ;
  if (flags & O_PATH) fmode = 0;
  fmode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
  const file = new File(path, inode, inode.i_fop, flags & ~(O_CREAT | O_EXCL | O_TRUNC), fmode);
  inode.i_count++;
  if (!(flags & O_PATH) && file.f_op.open) {
    const r = yield* file.f_op.open(inode, file);
    if (r < 0) {
      inode.i_count--;
      return r;
    }
  }
  return file;
}

function acc_mask(flags: number): number {
  const acc = flags & O_ACCMODE;
  let m = acc === O_WRONLY ? MAY_WRITE : acc === O_RDWR ? MAY_READ | MAY_WRITE : MAY_READ;
  if (flags & O_TRUNC) m |= MAY_WRITE;
  return m;
}

/** do_filp_open: lookup (creating with O_CREAT), checks, then vfs_open. */
export function* do_filp_open(dfd: number, name: string, flags: number, mode: number): Generator<unknown, File | number, unknown> {
  let path: Path;
  if (flags & O_CREAT) {
    const pp = path_parentat(dfd, name);
    if (typeof pp === 'number') return pp;
    const dir = pp.parent.dentry.d_inode!;
    const d = lookup_one(pp.parent.dentry, pp.last);
    if (typeof d === 'number' && d !== -ENOENT) return d;
    if (typeof d !== 'number' && d.d_inode !== null) {
      if (flags & O_EXCL) return -EEXIST;
      // An existing last component: follow a symlink unless O_NOFOLLOW.
      const p = path_lookupat(dfd, name, flags & O_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
      if (typeof p === 'number') return p;
      path = p;
    } else {
      const perm = inode_permission(dir, MAY_WRITE | MAY_EXEC);
      if (perm < 0) return perm;
      if (!dir.i_op.create) return -EACCES;
      const umask = current().fs?.umask ?? 0o022;
      const nd = new Dentry(pp.last, pp.parent.dentry, pp.parent.dentry.d_sb);
      const r = dir.i_op.create(dir, nd, mode & ~umask & 0o7777);
      if (r < 0) return r;
      const created = pp.parent.dentry.d_subdirs.get(pp.last) ?? nd;
      path = { mnt: pp.parent.mnt, dentry: created };
      // A new file is opened without a permission check (may_open is skipped for O_CREAT of a new file).
      const f = yield* vfs_open(path, flags);
      return f;
    }
  } else {
    const p = path_lookupat(dfd, name, flags & O_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
    if (typeof p === 'number') return p;
    path = p;
  }
  const inode = path.dentry.d_inode;
  if (inode === null) return -ENOENT;
  if (S_ISLNK(inode.i_mode)) return flags & O_PATH ? yield* vfs_open(path, flags) : -ELOOP;
  if (flags & O_DIRECTORY && !S_ISDIR(inode.i_mode)) return -ENOTDIR;
  if (S_ISDIR(inode.i_mode) && (flags & O_ACCMODE) !== 0) return -EISDIR;
  if (!(flags & O_PATH)) {
    const perm = inode_permission(inode, acc_mask(flags));
    if (perm < 0) return perm;
  }
  if (flags & O_TRUNC && S_ISREG(inode.i_mode) && inode.i_op.setattr) {
    const r = inode.i_op.setattr(path.dentry, { size: 0 });
    if (r < 0) return r;
  }
  return yield* vfs_open(path, flags);
}

/** Reads a path argument: the string or a negative errno. */
export function getname(uptr: number): string | number {
  const s = strncpy_from_user(uptr, PATH_MAX);
  if (typeof s === 'number') return s;
  if (s.length === 0) return -ENOENT;
  return s;
}

export function* do_sys_openat(dfd: number, name: string, flags: number, mode: number): Generator<unknown, number, unknown> {
  const fd = alloc_fd(0, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) return fd;
  const f = yield* do_filp_open(dfd, name, flags, mode);
  if (typeof f === 'number') return f;
  fd_install(fd, f);
  return fd;
}

function* sys_openat(dfd: number, filename: number, flags: number, mode: number): Generator<unknown, number, unknown> {
  const name = getname(filename);
  if (typeof name === 'number') return name;
  return yield* do_sys_openat(sys_int(dfd), name, sys_uint(flags), sys_uint(mode));
}

function* sys_close(fd: number): Generator<unknown, number, unknown> {
  return yield* close_fd(sys_int(fd));
}

function* sys_faccessat(dfd: number, filename: number, mode: number, flags = 0): Generator<unknown, number, unknown> {
  const m = sys_int(mode);
  if (m & ~7) return -EINVAL;
  const name = getname(filename);
  if (typeof name === 'number') return name;
  const p = path_lookupat(sys_int(dfd), name, sys_int(flags) & AT_SYMLINK_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  if (m === 0) return 0;
  const t = current();
  // access() checks with the real uid/gid (faccessat without AT_EACCESS).
  const saved = [t.cred.fsuid, t.cred.fsgid];
  if (!(sys_int(flags) & AT_EACCESS)) {
    t.cred.fsuid = t.cred.uid;
    t.cred.fsgid = t.cred.gid;
  }
  const r = inode_permission(p.dentry.d_inode!, m);
  t.cred.fsuid = saved[0]!;
  t.cred.fsgid = saved[1]!;
  return r;
}

function* sys_chdir(filename: number): Generator<unknown, number, unknown> {
  const name = getname(filename);
  if (typeof name === 'number') return name;
  const p = path_lookupat(AT_FDCWD, name, LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  if (!S_ISDIR(p.dentry.d_inode!.i_mode)) return -ENOTDIR;
  const perm = inode_permission(p.dentry.d_inode!, MAY_EXEC);
  if (perm < 0) return perm;
  const fs = current().fs;
  if (fs) fs.pwd = p;
  return 0;
}

function* sys_fchdir(fd: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  if (!S_ISDIR(f.f_inode.i_mode)) return -ENOTDIR;
  const fs = current().fs;
  if (fs) fs.pwd = f.f_path;
  return 0;
}

function* sys_getcwd(buf: number, size: number): Generator<unknown, number, unknown> {
  const fs = current().fs;
  if (fs === null) return -ENOENT;
  const s = new TextEncoder().encode(d_path(fs.pwd) + '\0');
  if (s.length > sys_uint(size)) return -ERANGE;
  if (s.length > PATH_MAX) return -ENAMETOOLONG;
  if (copy_to_user(buf, s, s.length) !== 0) return -EFAULT;
  return s.length;
}

function chmod_common(path: Path, mode: number): number {
  const inode = path.dentry.d_inode!;
  const t = current();
  if (t.cred.fsuid !== inode.i_uid && !has_capability(t, CAP_FOWNER)) return -EPERM;
  if (!inode.i_op.setattr) {
    inode.i_mode = (inode.i_mode & S_IFMT) | (mode & 0o7777);
    return 0;
  }
  return inode.i_op.setattr(path.dentry, { mode: mode & 0o7777 });
}

function chown_common(path: Path, uid: number, gid: number): number {
  const inode = path.dentry.d_inode!;
  const t = current();
  const changeUid = uid !== -1 && uid !== inode.i_uid;
  const changeGid = gid !== -1 && gid !== inode.i_gid;
  if ((changeUid || changeGid) && !has_capability(t, CAP_CHOWN)) {
    if (changeUid || t.cred.fsuid !== inode.i_uid) return -EPERM;
  }
  const attr: { uid?: number; gid?: number } = {};
  if (uid !== -1) attr.uid = uid;
  if (gid !== -1) attr.gid = gid;
  if (inode.i_op.setattr) return inode.i_op.setattr(path.dentry, attr);
  if (attr.uid !== undefined) inode.i_uid = attr.uid;
  if (attr.gid !== undefined) inode.i_gid = attr.gid;
  return 0;
}

function lookup_at(dfd: number, filename: number, flags: number): Path | number {
  const name = strncpy_from_user(filename, PATH_MAX);
  if (typeof name === 'number') return name;
  if (name.length === 0) {
    if (!(flags & AT_EMPTY_PATH)) return -ENOENT;
    const f = fd_file(dfd);
    return f === undefined ? -EBADF : f.f_path;
  }
  return path_lookupat(dfd, name, flags & AT_SYMLINK_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
}

function* sys_fchmodat(dfd: number, filename: number, mode: number): Generator<unknown, number, unknown> {
  const p = lookup_at(sys_int(dfd), filename, 0);
  if (typeof p === 'number') return p;
  return chmod_common(p, sys_uint(mode));
}

function* sys_fchmod(fd: number, mode: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  return chmod_common(f.f_path, sys_uint(mode));
}

function* sys_fchownat(dfd: number, filename: number, uid: number, gid: number, flags: number): Generator<unknown, number, unknown> {
  const p = lookup_at(sys_int(dfd), filename, sys_int(flags));
  if (typeof p === 'number') return p;
  return chown_common(p, sys_int(uid), sys_int(gid));
}

function* sys_fchown(fd: number, uid: number, gid: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  return chown_common(f.f_path, sys_int(uid), sys_int(gid));
}

function* sys_ftruncate(fd: number, length: number): Generator<unknown, number, unknown> {
  const f = fd_file(sys_int(fd));
  if (f === undefined) return -EBADF;
  if (length < 0 || !Number.isSafeInteger(length)) return -EINVAL;
  if (!(f.f_mode & FMODE_WRITE)) return -EINVAL;
  const inode = f.f_inode;
  if (!S_ISREG(inode.i_mode)) return -EINVAL;
  if (!inode.i_op.setattr) return -EPERM;
  return inode.i_op.setattr(f.f_path.dentry, { size: length });
}

function* sys_umask(mask: number): Generator<unknown, number, unknown> {
  const fs = current().fs;
  if (fs === null) return 0o022;
  const old = fs.umask;
  fs.umask = sys_uint(mask) & 0o777;
  return old;
}

registerSyscall(__NR_openat, 'openat', sys_openat);
registerSyscall(__NR_close, 'close', sys_close);
registerSyscall(__NR_faccessat, 'faccessat', sys_faccessat);
registerSyscall(__NR_chdir, 'chdir', sys_chdir);
registerSyscall(__NR_fchdir, 'fchdir', sys_fchdir);
registerSyscall(__NR_getcwd, 'getcwd', sys_getcwd);
registerSyscall(__NR_fchmodat, 'fchmodat', sys_fchmodat);
registerSyscall(__NR_fchmod, 'fchmod', sys_fchmod);
registerSyscall(__NR_fchownat, 'fchownat', sys_fchownat);
registerSyscall(__NR_fchown, 'fchown', sys_fchown);
registerSyscall(__NR_ftruncate, 'ftruncate', sys_ftruncate);
registerSyscall(__NR_umask, 'umask', sys_umask);

export { fput };
