// Directory-modifying system calls (fs/namei.c: do_mkdirat, do_unlinkat, do_rmdir,
// do_symlinkat, do_renameat2, do_mknodat): permission on the parent directory, the
// sticky bit, and the filesystem's inode_operations.

import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_mkdirat, __NR_unlinkat, __NR_symlinkat, __NR_renameat, __NR_mknodat } from '../syscalls/numbers.js';
import { EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, EXDEV } from '../lib/errno.js';
import { current } from '../sched/core.js';
import { CAP_FOWNER, has_capability } from '../sched/task.js';
import { getname } from './open.js';
import { AT_REMOVEDIR, MAY_EXEC, MAY_WRITE, inode_permission, lookup_one, path_parentat } from './namei.js';
import { strncpy_from_user } from '../lib/uaccess.js';
import { Dentry, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_ISDIR, S_ISVTX, S_IFBLK, S_IFSOCK, type Inode } from './types.js';

function may_delete(dir: Inode, victim: Inode): number {
  const p = inode_permission(dir, MAY_WRITE | MAY_EXEC);
  if (p < 0) return p;
  const t = current();
  if (dir.i_mode & S_ISVTX && t.cred.fsuid !== victim.i_uid && t.cred.fsuid !== dir.i_uid && !has_capability(t, CAP_FOWNER)) return -EPERM;
  return 0;
}

/**
 * filename_create + may_create: the parent directory of a name about to be created and a
 * fresh dentry for it; -EEXIST when the name exists (or is "." or ".."), or the parent's
 * permission error.
 */
function filename_create(dfd: number, name: string): { dir: Inode; dentry: Dentry } | number {
  const pp = path_parentat(dfd, name);
  if (typeof pp === 'number') return pp;
  if (pp.last === '.' || pp.last === '..') return -EEXIST;
  const dir = pp.parent.dentry.d_inode!;
  const existing = lookup_one(pp.parent.dentry, pp.last);
  if (typeof existing !== 'number' && existing.d_inode !== null) return -EEXIST;
  const perm = inode_permission(dir, MAY_WRITE | MAY_EXEC);
  if (perm < 0) return perm;
  return { dir, dentry: new Dentry(pp.last, pp.parent.dentry, pp.parent.dentry.d_sb) };
}

export function vfs_mkdirat(dfd: number, name: string, mode: number): number {
  const c = filename_create(dfd, name);
  if (typeof c === 'number') return c;
  if (!c.dir.i_op.mkdir) return -EPERM;
  const umask = current().fs?.umask ?? 0o022;
  return c.dir.i_op.mkdir(c.dir, c.dentry, mode & ~umask & 0o1777);
}

function* sys_mkdirat(dfd: number, pathname: number, mode: number): Generator<unknown, number, unknown> {
  const name = getname(pathname);
  if (typeof name === 'number') return name;
  return vfs_mkdirat(sys_int(dfd), name, sys_uint(mode));
}

function* sys_mknodat(dfd: number, pathname: number, mode: number, dev: number): Generator<unknown, number, unknown> {
  const name = getname(pathname);
  if (typeof name === 'number') return name;
  const m = sys_uint(mode);
  const fmt = m & S_IFMT;
  if (fmt !== 0 && fmt !== S_IFREG && fmt !== S_IFCHR && fmt !== S_IFBLK && fmt !== S_IFIFO && fmt !== S_IFSOCK) return -EINVAL;
  if ((fmt === S_IFCHR || fmt === S_IFBLK) && !has_capability(current(), 27 /* CAP_MKNOD */)) return -EPERM;
  const c = filename_create(sys_int(dfd), name);
  if (typeof c === 'number') return c;
  const { dir, dentry: d } = c;
  if (!dir.i_op.mknod) return -EPERM;
  const umask = current().fs?.umask ?? 0o022;
  // new_decode_dev: major [19:8], minor [7:0] | [31:20]
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return dir.i_op.mknod(dir, d, (fmt || S_IFREG) | (m & ~umask & 0o7777), major * (1 << 20) + minor);
}

function* sys_unlinkat(dfd: number, pathname: number, flag: number): Generator<unknown, number, unknown> {
  const flags = sys_int(flag);
  if (flags & ~AT_REMOVEDIR) return -EINVAL;
  const name = getname(pathname);
  if (typeof name === 'number') return name;
  const pp = path_parentat(sys_int(dfd), name);
  if (typeof pp === 'number') return pp;
  if (pp.last === '.' ) return -EINVAL;
  if (pp.last === '..') return -ENOTEMPTY;
  const dir = pp.parent.dentry.d_inode!;
  const d = lookup_one(pp.parent.dentry, pp.last);
  if (typeof d === 'number') return d;
  const victim = d.d_inode;
  if (victim === null) return -ENOENT;
  const perm = may_delete(dir, victim);
  if (perm < 0) return perm;
  if (flags & AT_REMOVEDIR) {
    if (!S_ISDIR(victim.i_mode)) return -ENOTDIR;
    if (d.d_mounted > 0) return -EBUSY;
    if (!dir.i_op.rmdir) return -EPERM;
    return dir.i_op.rmdir(dir, d);
  }
  if (S_ISDIR(victim.i_mode)) return -EISDIR;
  if (!dir.i_op.unlink) return -EPERM;
  return dir.i_op.unlink(dir, d);
}

function* sys_symlinkat(oldname: number, newdfd: number, newname: number): Generator<unknown, number, unknown> {
  const target = strncpy_from_user(oldname, 4096);
  if (typeof target === 'number') return target;
  if (target.length === 0) return -ENOENT;
  const name = getname(newname);
  if (typeof name === 'number') return name;
  const c = filename_create(sys_int(newdfd), name);
  if (typeof c === 'number') return c;
  if (!c.dir.i_op.symlink) return -EPERM;
  return c.dir.i_op.symlink(c.dir, c.dentry, target);
}

function* sys_renameat(olddfd: number, oldname: number, newdfd: number, newname: number): Generator<unknown, number, unknown> {
  const on = getname(oldname);
  if (typeof on === 'number') return on;
  const nn = getname(newname);
  if (typeof nn === 'number') return nn;
  const op = path_parentat(sys_int(olddfd), on);
  if (typeof op === 'number') return op;
  const np = path_parentat(sys_int(newdfd), nn);
  if (typeof np === 'number') return np;
  if (op.parent.mnt !== np.parent.mnt) return -EXDEV;
  const od = lookup_one(op.parent.dentry, op.last);
  if (typeof od === 'number') return od;
  if (od.d_inode === null) return -ENOENT;
  const oldDir = op.parent.dentry.d_inode!;
  const newDir = np.parent.dentry.d_inode!;
  let p = may_delete(oldDir, od.d_inode);
  if (p < 0) return p;
  p = inode_permission(newDir, MAY_WRITE | MAY_EXEC);
  if (p < 0) return p;
  // A directory cannot move below itself.
  for (let a: Dentry | null = np.parent.dentry; a !== null; a = a.d_parent) if (a === od) return -EINVAL;
  const existing = lookup_one(np.parent.dentry, np.last);
  if (typeof existing !== 'number' && existing.d_inode !== null) {
    if (S_ISDIR(od.d_inode.i_mode) && !S_ISDIR(existing.d_inode.i_mode)) return -ENOTDIR;
    if (!S_ISDIR(od.d_inode.i_mode) && S_ISDIR(existing.d_inode.i_mode)) return -EISDIR;
    if (existing === od) return 0;
  }
  if (!oldDir.i_op.rename) return -EPERM;
  return oldDir.i_op.rename(oldDir, od, newDir, new Dentry(np.last, np.parent.dentry, np.parent.dentry.d_sb));
}

registerSyscall(__NR_mkdirat, 'mkdirat', sys_mkdirat);
registerSyscall(__NR_mknodat, 'mknodat', sys_mknodat);
registerSyscall(__NR_unlinkat, 'unlinkat', sys_unlinkat);
registerSyscall(__NR_symlinkat, 'symlinkat', sys_symlinkat);
registerSyscall(__NR_renameat, 'renameat', sys_renameat);
